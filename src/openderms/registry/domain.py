"""The DER registry's domain: what an installer registers, what the utility decides, and the
DER's lifecycle with an audit trail (use cases 1 and 2 of the OpFlex pilot).

Boundary types are pydantic models (they validate what installers send); every rejected
field becomes a ``ValidationIssue`` naming the object, the field, the value and what was
expected (``issues_from_pydantic``).

Powers: ``p_export_kw`` is the AC export rating (generator convention, positive = export);
``p_import_kw`` the largest import (charging) as a positive number of kW drawn from the grid.

Lifecycle::

    submitted -> screening -> approved | approved_with_limit | rejected
    approved / approved_with_limit -> provisioned -> active <-> suspended
    any but decommissioned -> decommissioned
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from openderms.errors import ValidationError, ValidationIssue

DerType = Literal["pv", "battery", "ev_charger", "flexible_load", "other"]
CommPath = Literal["ieee2030_5_direct", "aggregator", "dnp3"]
Program = Literal["constraint_management", "dso_market", "iso_services"]
Certification = Literal["UL1741SB", "IEEE1547-2018", "CSIP", "SunSpec-Modbus"]
Status = Literal[
    "submitted",
    "screening",
    "approved",
    "approved_with_limit",
    "rejected",
    "provisioned",
    "active",
    "suspended",
    "decommissioned",
]
Decision = Literal["approve", "approve_with_limit", "reject"]
Role = Literal["installer", "aggregator", "operator"]
Action = Literal["provision", "activate", "suspend", "resume", "decommission"]

#: allowed lifecycle moves
TRANSITIONS: dict[Status, frozenset[Status]] = {
    "submitted": frozenset({"screening", "decommissioned"}),
    "screening": frozenset({"approved", "approved_with_limit", "rejected", "decommissioned"}),
    "approved": frozenset({"provisioned", "decommissioned"}),
    "approved_with_limit": frozenset({"provisioned", "decommissioned"}),
    "rejected": frozenset({"decommissioned"}),
    "provisioned": frozenset({"active", "suspended", "decommissioned"}),
    "active": frozenset({"suspended", "decommissioned"}),
    "suspended": frozenset({"active", "decommissioned"}),
    "decommissioned": frozenset(),
}

#: the status each operator/installer action leads to
ACTION_TARGET: dict[Action, Status] = {
    "provision": "provisioned",
    "activate": "active",
    "suspend": "suspended",
    "resume": "active",
    "decommission": "decommissioned",
}


#: an LFDI: the first 160 bits of the SHA-256 of a certificate, as 40 hex digits
LFDI_HEX_DIGITS = 40
LFDI_EXPECTED = f"{LFDI_HEX_DIGITS} hex digits (0-9, A-F)"


def parse_lfdi(value: object) -> str:
    """``value`` as an LFDI in upper case (``ValueError`` naming what was expected)."""
    text = value.strip() if isinstance(value, str) else ""
    if len(text) != LFDI_HEX_DIGITS or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise ValueError(LFDI_EXPECTED)
    return text.upper()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Nameplate(_Strict):
    """Ratings of the DER at its point of connection."""

    p_export_kw: float = Field(ge=0, le=20_000, description="AC export rating, kW")
    s_kva: float = Field(gt=0, le=25_000, description="inverter apparent-power rating, kVA")
    p_import_kw: float = Field(0.0, ge=0, le=20_000, description="largest import, kW")
    e_kwh: float = Field(0.0, ge=0, le=200_000, description="storage energy, kWh")
    pf_min: float = Field(0.85, gt=0, le=1, description="lowest power factor it can hold")

    @model_validator(mode="after")
    def _fits_inverter(self) -> Nameplate:
        if self.p_export_kw > self.s_kva * 1.0001:
            raise ValueError(f"p_export_kw {self.p_export_kw} exceeds s_kva {self.s_kva}")
        return self


class Inverter(_Strict):
    make: str = Field(min_length=1, max_length=80)
    model: str = Field(min_length=1, max_length=80)
    firmware: str = Field("", max_length=40)
    certifications: tuple[Certification, ...] = ()


class Location(_Strict):
    """Where the DER connects: a service point (customer meter) id from the network model,
    or a service transformer or bus id when the service point is not known."""

    service_point_id: str | None = Field(None, max_length=80)
    service_transformer_id: str | None = Field(None, max_length=80)
    bus_id: str | None = Field(None, max_length=80)
    latitude_deg: float | None = Field(None, ge=-90, le=90)
    longitude_deg: float | None = Field(None, ge=-180, le=180)

    @model_validator(mode="after")
    def _some_anchor(self) -> Location:
        if not (self.service_point_id or self.service_transformer_id or self.bus_id):
            raise ValueError("give service_point_id, service_transformer_id or bus_id")
        return self


class Registration(_Strict):
    """What an installer submits for one DER."""

    der_type: DerType
    nameplate: Nameplate
    inverter: Inverter
    location: Location
    owner_name: str = Field(min_length=1, max_length=120)
    owner_email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=200)
    application_id: str = Field(min_length=1, max_length=60, description="interconnection app.")
    comm_path: CommPath = "ieee2030_5_direct"
    aggregator_id: str | None = Field(None, max_length=80)
    programs: tuple[Program, ...] = ("constraint_management",)
    device_lfdi: str | None = Field(
        None,
        description="LFDI of the inverter's 2030.5 device certificate, 40 hex digits "
        "(upper case once stored); a direct DER is served over 2030.5 only once it has one",
    )

    @field_validator("device_lfdi", mode="before")
    @classmethod
    def _lfdi(cls, value: object) -> object:
        if value is None or value == "":
            return None
        return parse_lfdi(value)

    @model_validator(mode="after")
    def _aggregator_when_needed(self) -> Registration:
        if self.comm_path == "aggregator" and not self.aggregator_id:
            raise ValueError("comm_path 'aggregator' needs aggregator_id")
        return self


class Screening(_Strict):
    """The self-provisioning screen's outcome, in numbers and in words."""

    decision: Decision
    reason: str
    bus_id: str
    feeder_id: str | None
    topology_node_id: str
    requested_kw: float
    export_limit_kw: float | None  # set when approved with a limit (or 0 when rejected)
    hosting_capacity_kw: float  # at this bus before this DER
    v_worst_before_pu: float  # highest voltage the DER affects, hosting worst case
    v_worst_after_pu: float
    v_limit_pu: float
    binding_constraint: str  # e.g. "voltage at bus X" or "thermal on branch Y"
    loading_before_pct: float  # most loaded branch on the DER's path, worst case
    loading_after_pct: float
    screened_at: datetime
    # export: screened at minimum load; import: an import-only DER (EV charger, flexible load)
    # screened at peak load, ``requested_kw`` then being the import and ``export_limit_kw`` 0
    direction: Literal["export", "import"] = "export"
    import_limit_kw: float | None = None  # import-only DER approved with a limit (0: rejected)


class Provisioning(_Strict):
    """How the DER is set up for control once approved."""

    topology_node_id: str
    feeder_id: str | None
    programs: tuple[Program, ...]
    comm_path: CommPath
    der_program_id: str  # the 2030.5 DERProgram its topology node maps to
    provisioned_at: datetime


class AuditEntry(_Strict):
    at: datetime
    actor: str
    action: str
    from_status: Status | None
    to_status: Status
    detail: str = ""


class DerRecord(_Strict):
    """A registered DER as stored."""

    id: str
    registration: Registration
    status: Status
    installer_id: str
    created_at: datetime
    updated_at: datetime
    screening: Screening | None = None
    provisioning: Provisioning | None = None
    audit: tuple[AuditEntry, ...] = ()
    version: int = 1  # optimistic concurrency: bumped on every change


def issues_from_pydantic(
    exc: pydantic.ValidationError, object_kind: str, object_id: str
) -> list[ValidationIssue]:
    """Turn pydantic's errors into issues naming object, field (dotted path), value, expectation."""
    out = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(object)"
        value = err.get("input")
        if isinstance(value, dict):
            value = "(object)"
        elif not isinstance(value, str | int | float | bool | None):
            value = repr(value)
        expected = err["msg"].removeprefix("Value error, ")
        out.append(ValidationIssue(object_kind, object_id, field, value, expected))
    return out


def parse_registration(data: object, object_id: str = "(new)") -> Registration:
    """Validate raw input into a ``Registration``; raises ``ValidationError`` listing all issues."""
    try:
        return Registration.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ValidationError(issues_from_pydantic(exc, "registration", object_id)) from None
