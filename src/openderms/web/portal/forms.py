"""The DER registration form: its fields, and where each validation message goes.

Field names are the dotted paths of ``Registration`` (``nameplate.p_export_kw``), the same
paths a ``ValidationIssue`` names, so every issue lands next to the field it is about; an issue
about a group (``nameplate``: export above the inverter rating) lands under the group, and one
about the whole registration under the form.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from openderms.errors import ValidationIssue
from openderms.registry.domain import Certification, CommPath, DerType, Program

FieldKind = Literal["text", "number", "email", "select", "checkboxes"]
FORM_SLOT = "(object)"


@dataclass(frozen=True, slots=True)
class FormField:
    name: str
    label: str
    kind: FieldKind = "text"
    required: bool = False
    hint: str = ""
    options: tuple[tuple[str, str], ...] = ()
    default: str | tuple[str, ...] = ""

    @property
    def dom_id(self) -> str:
        return "f-" + self.name.replace(".", "-")


@dataclass(frozen=True, slots=True)
class FieldGroup:
    name: str  # the issue path of the group ("" for top-level fields)
    legend: str
    fields: tuple[FormField, ...] = field(default=())


#: how enumerated values read on a page (others: underscores become spaces)
WORDS = {
    "pv": "PV",
    "ev_charger": "EV charger",
    "ieee2030_5_direct": "IEEE 2030.5, direct",
    "aggregator": "via an aggregator",
    "dnp3": "DNP3",
    "dso_market": "DSO market",
    "iso_services": "ISO services",
}


def words(value: object) -> str:
    """An enumerated value as words (``ev_charger`` -> ``EV charger``)."""
    text = str(value)
    return WORDS.get(text, text.replace("_", " "))


def _choices(values: Iterable[str]) -> tuple[tuple[str, str], ...]:
    return tuple((v, words(v)) for v in values)


GROUPS: tuple[FieldGroup, ...] = (
    FieldGroup(
        "nameplate",
        "The DER and its ratings",
        (
            FormField("der_type", "Type", "select", True, options=_choices(get_args(DerType))),
            FormField(
                "nameplate.p_export_kw",
                "Export rating (kW AC)",
                "number",
                True,
                hint="largest export to the grid, kW",
            ),
            FormField("nameplate.s_kva", "Inverter rating (kVA)", "number", True),
            FormField(
                "nameplate.p_import_kw",
                "Largest import (kW)",
                "number",
                hint="charging or load, kW drawn from the grid; 0 for none",
            ),
            FormField("nameplate.e_kwh", "Storage energy (kWh)", "number", hint="0 for none"),
            FormField("nameplate.pf_min", "Lowest power factor", "number", hint="default 0.85"),
        ),
    ),
    FieldGroup(
        "inverter",
        "Inverter",
        (
            FormField("inverter.make", "Inverter make", required=True),
            FormField("inverter.model", "Inverter model", required=True),
            FormField("inverter.firmware", "Inverter firmware"),
            FormField(
                "inverter.certifications",
                "Certifications",
                "checkboxes",
                options=_choices(get_args(Certification)),
            ),
        ),
    ),
    FieldGroup(
        "location",
        "Where it connects",
        (
            FormField(
                "location.service_point_id",
                "Service point (meter) id",
                hint="or give the service transformer or the bus",
            ),
            FormField("location.service_transformer_id", "Service transformer id"),
            FormField("location.bus_id", "Bus id"),
            FormField("location.latitude_deg", "Latitude (degrees)", "number"),
            FormField("location.longitude_deg", "Longitude (degrees)", "number"),
        ),
    ),
    FieldGroup(
        "",
        "Owner and application",
        (
            FormField("owner_name", "Owner name", required=True),
            FormField("owner_email", "Owner e-mail", "email", True),
            FormField("application_id", "Interconnection application id", required=True),
        ),
    ),
    FieldGroup(
        "",
        "Communication and programs",
        (
            FormField(
                "comm_path",
                "Communication path",
                "select",
                options=_choices(get_args(CommPath)),
                default="ieee2030_5_direct",
            ),
            FormField("aggregator_id", "Aggregator id", hint="needed when via an aggregator"),
            FormField(
                "device_lfdi",
                "Inverter certificate LFDI",
                hint="40 hex digits; a direct 2030.5 DER is served once it has one",
            ),
            FormField(
                "programs",
                "Programs",
                "checkboxes",
                options=_choices(get_args(Program)),
                default=("constraint_management",),
            ),
        ),
    ),
)

FIELD_NAMES = frozenset(f.name for g in GROUPS for f in g.fields)
GROUP_NAMES = frozenset(g.name for g in GROUPS if g.name)
SLOTS = FIELD_NAMES | GROUP_NAMES | {FORM_SLOT}


def slot_id(slot: str) -> str:
    """The DOM id of the message slot of a field, group or the form."""
    return "err-" + ("form" if slot == FORM_SLOT else slot.replace(".", "-"))


def slot_of(issue_field: str) -> str:
    """The slot an issue's field path belongs to: the field itself, else its nearest
    enclosing field or group (``inverter.certifications.0`` -> ``inverter.certifications``),
    else the form."""
    parts = issue_field.split(".")
    while parts:
        name = ".".join(parts)
        if name in FIELD_NAMES or name in GROUP_NAMES:
            return name
        parts.pop()
    return FORM_SLOT


def messages(
    issues: Iterable[ValidationIssue], only_filled: Collection[str] | None = None
) -> dict[str, list[str]]:
    """Messages per slot. With ``only_filled`` (inline validation while typing), a field's
    messages are kept only once the user has filled it, and a group's once any of its fields
    is filled, so an untouched form is not covered in 'Field required'."""
    out: dict[str, list[str]] = {}
    for issue in issues:
        slot = slot_of(issue.field)
        if only_filled is not None and slot != FORM_SLOT:
            prefix = slot + "."
            if slot not in only_filled and not any(f.startswith(prefix) for f in only_filled):
                continue
        out.setdefault(slot, []).append(_sentence(issue))
    return out


def _sentence(issue: ValidationIssue) -> str:
    expected = issue.expected
    if issue.value in (None, "", "(object)"):
        return expected[:1].upper() + expected[1:]
    return f"{issue.value!s} is not accepted: {expected}"


def form_values(form: Mapping[str, Sequence[str]] | None) -> dict[str, str | tuple[str, ...]]:
    """What each field shows: what was posted, else its default."""
    out: dict[str, str | tuple[str, ...]] = {}
    for g in GROUPS:
        for f in g.fields:
            posted = None if form is None else form.get(f.name)
            if f.kind == "checkboxes":
                out[f.name] = tuple(posted or ()) if form is not None else tuple(f.default)
            elif posted:
                out[f.name] = posted[-1]
            else:
                out[f.name] = f.default if form is None else ""
    return out
