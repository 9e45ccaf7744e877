"""Mapping between ``DerRecord`` (the domain) and the rows of ``der`` and ``der_audit``.

Plain dicts keyed by column name, so that a batch goes to the database as one executemany.
Naive datetimes, non-finite screening numbers and NUL characters in text columns are refused
here with a ``ValidationError`` that names the DER and the field, before anything is written.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from openderms.errors import ValidationError, ValidationIssue
from openderms.registry.domain import (
    AuditEntry,
    DerRecord,
    Provisioning,
    Registration,
    Screening,
)
from openderms.registry.memory import granted_export_kw


def _aware(der_id: str, field: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(
            [ValidationIssue("der", der_id, field, value.isoformat(), "a timezone-aware time")]
        )
    return value


def _texts(r: DerRecord) -> Iterator[tuple[str, str | None]]:
    """(field, value) of every text that lands in a column of its own."""
    reg, s, p = r.registration, r.screening, r.provisioning
    yield "id", r.id
    yield "installer_id", r.installer_id
    yield "registration.aggregator_id", reg.aggregator_id
    yield "registration.application_id", reg.application_id
    if s is not None:
        yield "screening.bus_id", s.bus_id
        yield "screening.feeder_id", s.feeder_id
        yield "screening.topology_node_id", s.topology_node_id
    if p is not None:
        yield "provisioning.topology_node_id", p.topology_node_id
    for i, e in enumerate(r.audit):
        yield f"audit.{i}.actor", e.actor
        yield f"audit.{i}.action", e.action
        yield f"audit.{i}.detail", e.detail


def _check(r: DerRecord) -> None:
    """Refuse what a database would store wrongly or not at all: NUL characters in text
    columns (PostgreSQL's text cannot hold them), naive times, NaN or infinite numbers in the
    screening (JSON has no such numbers)."""
    for field, value in _texts(r):
        if value is not None and "\x00" in value:
            raise ValidationError(
                [ValidationIssue("der", r.id, field, value, "text without NUL characters")]
            )
    _aware(r.id, "created_at", r.created_at)
    _aware(r.id, "updated_at", r.updated_at)
    if r.screening is not None:
        _aware(r.id, "screening.screened_at", r.screening.screened_at)
        for name, value in r.screening:
            if isinstance(value, float) and not math.isfinite(value):
                raise ValidationError(
                    [ValidationIssue("der", r.id, f"screening.{name}", value, "a finite number")]
                )
    if r.provisioning is not None:
        _aware(r.id, "provisioning.provisioned_at", r.provisioning.provisioned_at)
    for i, e in enumerate(r.audit):
        _aware(r.id, f"audit.{i}.at", e.at)


def der_row(r: DerRecord) -> dict[str, Any]:
    """The ``der`` row of a record (its audit entries go to ``audit_rows``)."""
    _check(r)
    s, p = r.screening, r.provisioning
    if p is not None:
        node: str | None = p.topology_node_id
    else:
        node = s.topology_node_id if s is not None else None
    return {
        "id": r.id,
        "installer_id": r.installer_id,
        "aggregator_id": r.registration.aggregator_id,
        "application_id": r.registration.application_id,
        "status": r.status,
        "device_lfdi": r.registration.device_lfdi,
        "bus_id": s.bus_id if s is not None else None,
        "feeder_id": s.feeder_id if s is not None else None,
        "topology_node_id": node,
        "granted_export_kw": granted_export_kw(r),
        "registration": r.registration.model_dump(mode="json"),
        "screening": s.model_dump(mode="json") if s is not None else None,
        "provisioning": p.model_dump(mode="json") if p is not None else None,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "version": r.version,
    }


def audit_rows(r: DerRecord, after_seq: int = 0) -> list[dict[str, Any]]:
    """Rows of the record's audit entries numbered above ``after_seq`` (``seq`` counts from 1)."""
    return [
        {
            "der_id": r.id,
            "seq": seq,
            "at": e.at,
            "actor": e.actor,
            "action": e.action,
            "from_status": e.from_status,
            "to_status": e.to_status,
            "detail": e.detail,
        }
        for seq, e in enumerate(r.audit[after_seq:], start=after_seq + 1)
    ]


def audit_entry(row: Mapping[Any, Any]) -> AuditEntry:
    return AuditEntry(
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        from_status=row["from_status"],
        to_status=row["to_status"],
        detail=row["detail"],
    )


def der_record(row: Mapping[Any, Any], audit: Iterable[AuditEntry]) -> DerRecord:
    """The record stored in ``row`` with its audit trail (in order)."""
    screening, provisioning = row["screening"], row["provisioning"]
    return DerRecord(
        id=row["id"],
        registration=Registration.model_validate(row["registration"]),
        status=row["status"],
        installer_id=row["installer_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        screening=Screening.model_validate(screening) if screening is not None else None,
        provisioning=(
            Provisioning.model_validate(provisioning) if provisioning is not None else None
        ),
        audit=tuple(audit),
        version=row["version"],
    )
