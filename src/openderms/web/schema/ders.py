"""Wire models of the DER resource (JSON over ``/api/v1/ders``).

Requests carry the domain's ``Registration`` as it is (it is already a strict boundary model);
responses are the models below, built by ``mapper.ders``. Powers are in kW, generator
convention (positive = export to the grid); voltages in per unit of the bus's nominal voltage;
loadings in percent of the branch rating.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from openderms.registry.domain import (
    CommPath,
    Decision,
    Program,
    Registration,
    Status,
)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScreeningOut(_Out):
    """The self-provisioning screen, in numbers and in words (``summary``)."""

    decision: Decision
    reason: str
    summary: str = Field(description="the decision in words, with its numbers")
    bus_id: str
    feeder_id: str | None
    topology_node_id: str
    requested_kw: float = Field(description="export asked for, kW")
    direction: Literal["export", "import"] = Field(
        description="export: screened at minimum load; import (import-only DER): at peak load"
    )
    export_limit_kw: float | None = Field(description="export granted when limited, kW")
    import_limit_kw: float | None = Field(description="import granted when limited, kW")
    hosting_capacity_kw: float = Field(description="room at the bus before this DER, kW")
    v_worst_before_pu: float
    v_worst_after_pu: float
    v_rise_pu: float = Field(description="v_worst_after_pu - v_worst_before_pu")
    v_limit_pu: float
    binding_constraint: str
    loading_before_pct: float
    loading_after_pct: float
    loading_added_pct: float = Field(description="loading_after_pct - loading_before_pct")
    screened_at: datetime


class ProvisioningOut(_Out):
    topology_node_id: str
    feeder_id: str | None
    programs: tuple[Program, ...]
    comm_path: CommPath
    der_program_id: str
    provisioned_at: datetime


class AuditOut(_Out):
    at: datetime
    actor: str
    action: str
    from_status: Status | None
    to_status: Status
    detail: str


class DerOut(_Out):
    """A registered DER. ``version`` is also sent as the ``ETag``; send it back in
    ``If-Match`` to change the DER."""

    id: str
    href: str
    status: Status
    version: int
    installer_id: str
    created_at: datetime
    updated_at: datetime
    registration: Registration
    screening: ScreeningOut | None
    provisioning: ProvisioningOut | None
    audit: list[AuditOut]


class DerPage(_Out):
    """One page of DER (ordered by id) and how many match in all."""

    items: list[DerOut]
    total: int
    offset: int
    limit: int


class DerBrief(_Out):
    id: str
    href: str
    application_id: str
    status: Status
    decision: Decision | None
    export_limit_kw: float | None
    import_limit_kw: float | None


class BulkResult(_Out):
    """What a bulk import created: every row, and how many of each decision."""

    created: int
    decisions: dict[str, int]
    items: list[DerBrief]


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    detail: str = Field("", max_length=500, description="why (kept in the audit trail)")
