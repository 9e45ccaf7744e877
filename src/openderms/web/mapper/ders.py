"""DER: domain records <-> wire models (JSON and the portal's form).

Powers in kW, generator convention (positive = export to the grid).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, get_args

from openderms.registry.domain import (
    ACTION_TARGET,
    TRANSITIONS,
    Action,
    DerRecord,
    Screening,
    Status,
)
from openderms.registry.ports import DerQuery
from openderms.web.schema.ders import (
    AuditOut,
    BulkResult,
    DerBrief,
    DerOut,
    DerPage,
    ProvisioningOut,
    ScreeningOut,
)

API_DERS = "/api/v1/ders"

#: form fields that may hold several values (checkboxes)
MULTI_FIELDS = frozenset({"inverter.certifications", "programs"})

_DECISION_WORDS = {
    "approve": "Approved",
    "approve_with_limit": "Approved with an export limit",
    "reject": "Refused",
}


def der_href(der_id: str) -> str:
    return f"{API_DERS}/{der_id}"


def limit_kw(s: Screening) -> float | None:
    """The limit applied in the screened direction (None: none; 0 when refused)."""
    return s.export_limit_kw if s.direction == "export" else s.import_limit_kw


def screening_summary(s: Screening) -> str:
    """The screening outcome in words, with the numbers that decided it."""
    d = s.direction
    if s.decision == "approve":
        head = f"Approved for {s.requested_kw:,.1f} kW of {d}."
    elif s.decision == "approve_with_limit":
        head = (
            f"Approved with an {d} limit of {limit_kw(s) or 0.0:,.1f} kW "
            f"(asked {s.requested_kw:,.1f} kW)."
        )
    else:
        head = f"Refused ({s.requested_kw:,.1f} kW of {d} asked)."
    feeder = f"feeder {s.feeder_id}, " if s.feeder_id else ""
    case, extreme = ("minimum load", "highest") if d == "export" else ("peak load", "lowest")
    return (
        f"{head} Connected at bus {s.bus_id} ({feeder}topology node {s.topology_node_id}). "
        f"At the hosting worst case ({case}) the {extreme} voltage it affects goes from "
        f"{s.v_worst_before_pu:.4f} to {s.v_worst_after_pu:.4f} pu against a limit of "
        f"{s.v_limit_pu:.3f} pu; the most loaded branch on its path goes from "
        f"{s.loading_before_pct:.1f} % to {s.loading_after_pct:.1f} %. Hosting capacity at "
        f"the bus before it: {s.hosting_capacity_kw:,.1f} kW, bound by "
        f"{s.binding_constraint}."
    )


def decision_words(s: Screening) -> str:
    return _DECISION_WORDS[s.decision]


def screening_out(s: Screening) -> ScreeningOut:
    return ScreeningOut(
        **s.model_dump(),
        summary=screening_summary(s),
        v_rise_pu=s.v_worst_after_pu - s.v_worst_before_pu,
        loading_added_pct=s.loading_after_pct - s.loading_before_pct,
    )


def der_out(record: DerRecord) -> DerOut:
    return DerOut(
        id=record.id,
        href=der_href(record.id),
        status=record.status,
        version=record.version,
        installer_id=record.installer_id,
        created_at=record.created_at,
        updated_at=record.updated_at,
        registration=record.registration,
        screening=None if record.screening is None else screening_out(record.screening),
        provisioning=(
            None
            if record.provisioning is None
            else ProvisioningOut(**record.provisioning.model_dump())
        ),
        audit=[AuditOut(**a.model_dump()) for a in record.audit],
    )


def der_page(records: Sequence[DerRecord], total: int, q: DerQuery) -> DerPage:
    return DerPage(items=[der_out(r) for r in records], total=total, offset=q.offset, limit=q.limit)


def der_brief(record: DerRecord) -> DerBrief:
    s = record.screening
    return DerBrief(
        id=record.id,
        href=der_href(record.id),
        application_id=record.registration.application_id,
        status=record.status,
        decision=None if s is None else s.decision,
        export_limit_kw=None if s is None else s.export_limit_kw,
        import_limit_kw=None if s is None else s.import_limit_kw,
    )


def decision_counts(records: Iterable[DerRecord]) -> dict[str, int]:
    """How many records got each screening decision (``unscreened`` for none)."""
    counts = Counter("unscreened" if r.screening is None else r.screening.decision for r in records)
    return dict(sorted(counts.items()))


def bulk_result(records: Sequence[DerRecord]) -> BulkResult:
    return BulkResult(
        created=len(records),
        decisions=decision_counts(records),
        items=[der_brief(r) for r in records],
    )


def der_query(status: Status | None, feeder_id: str | None, offset: int, limit: int) -> DerQuery:
    """The filters of a list request; the service narrows them to what the actor may see."""
    return DerQuery(status=status, feeder_id=feeder_id, offset=offset, limit=limit)


def parse_if_match(value: str) -> int | None:
    """The version in an ``If-Match`` header (``"3"``, ``W/"3"`` or ``3``), None if unreadable."""
    text = value.strip().removeprefix("W/").strip('"')
    return int(text) if text.isdigit() else None


def available_actions(status: Status) -> list[Action]:
    """The lifecycle actions that may follow ``status`` (resume only from suspended)."""
    out: list[Action] = []
    for action in get_args(Action):
        target = ACTION_TARGET[action]
        if target not in TRANSITIONS[status]:
            continue
        if (action == "activate" and status == "suspended") or (
            action == "resume" and status != "suspended"
        ):
            continue
        out.append(action)
    return out


def registration_data(form: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """The portal form (dotted names, as posted) as the nested data ``Registration`` reads.

    Empty fields are left out, so a default applies or the field is reported as required;
    numbers stay text for the model to parse (and to quote back when they do not).
    """
    data: dict[str, Any] = {}
    for name, values in form.items():
        if name.startswith("_"):
            continue
        kept = [v.strip() for v in values if v.strip()]
        if not kept:
            continue
        value: Any = kept if name in MULTI_FIELDS else kept[-1]
        node = data
        *parents, leaf = name.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return data


def filled_fields(form: Mapping[str, Sequence[str]]) -> set[str]:
    """Names of the form fields the user has filled in."""
    return {n for n, vs in form.items() if any(v.strip() for v in vs)}
