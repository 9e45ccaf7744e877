"""In-memory implementations of the registry ports (tests, and a store-less embedded run)."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from openderms.errors import ConflictError
from openderms.registry.domain import DerRecord
from openderms.registry.ports import DerQuery

GRANTING = frozenset({"approved", "approved_with_limit", "provisioned", "active", "suspended"})


def granted_export_kw(record: DerRecord) -> float:
    """Export the record holds on its bus (0 unless approved or later, not decommissioned)."""
    if record.status not in GRANTING or record.screening is None:
        return 0.0
    s = record.screening
    return s.export_limit_kw if s.export_limit_kw is not None else s.requested_kw


def matches(record: DerRecord, q: DerQuery) -> bool:
    """Whether ``record`` passes the filters of ``q`` (paging aside)."""
    reg = record.registration
    return (
        (q.installer_id is None or record.installer_id == q.installer_id)
        and (q.aggregator_id is None or reg.aggregator_id == q.aggregator_id)
        and (q.status is None or record.status == q.status)
        and (
            q.feeder_id is None
            or (record.screening is not None and record.screening.feeder_id == q.feeder_id)
        )
    )


class InMemoryDerRepository:
    """A dict behind a lock; same contract as the SQL repository."""

    def __init__(self) -> None:
        self._records: dict[str, DerRecord] = {}
        self._lock = threading.Lock()

    def add_many(self, records: Sequence[DerRecord]) -> None:
        with self._lock:
            apps = {r.registration.application_id for r in self._records.values()}
            lfdis = {r.registration.device_lfdi for r in self._records.values()} - {None}
            ids: set[str] = set()
            for r in records:
                lfdi = r.registration.device_lfdi
                if lfdi is not None and lfdi in lfdis:
                    raise ConflictError(f"device_lfdi {lfdi} is already registered")
                if lfdi is not None:
                    lfdis.add(lfdi)
                if r.id in self._records or r.id in ids:
                    raise ConflictError(f"DER id {r.id!r} already exists")
                if r.registration.application_id in apps:
                    raise ConflictError(
                        f"application_id {r.registration.application_id!r} is already registered"
                    )
                ids.add(r.id)
                apps.add(r.registration.application_id)
            for r in records:
                self._records[r.id] = r

    def get(self, der_id: str) -> DerRecord | None:
        return self._records.get(der_id)

    def save(self, record: DerRecord, expected_version: int) -> None:
        with self._lock:
            current = self._records.get(record.id)
            if current is None or current.version != expected_version:
                found = None if current is None else current.version
                raise ConflictError(
                    f"DER {record.id!r} is at version {found}, not {expected_version}"
                )
            lfdi = record.registration.device_lfdi
            other = self.der_id_by_lfdi(lfdi) if lfdi is not None else None
            if other is not None and other != record.id:
                raise ConflictError(f"device_lfdi {lfdi} is already registered to DER {other!r}")
            self._records[record.id] = record

    def query(self, q: DerQuery) -> tuple[list[DerRecord], int]:
        hits = sorted((r for r in self._records.values() if matches(r, q)), key=lambda r: r.id)
        return hits[q.offset : q.offset + q.limit], len(hits)

    def der_id_by_lfdi(self, lfdi: str) -> str | None:
        return next(
            (r.id for r in self._records.values() if r.registration.device_lfdi == lfdi), None
        )

    def granted_export_kw_by_bus(self) -> Mapping[str, float]:
        out: dict[str, float] = {}
        for r in self._records.values():
            kw = granted_export_kw(r)
            if kw > 0 and r.screening is not None:
                out[r.screening.bus_id] = out.get(r.screening.bus_id, 0.0) + kw
        return out


class RecordingPublisher:
    """Keeps every published event in order (tests read ``events``)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Mapping[str, Any]]] = []

    def publish(self, subject: str, payload: Mapping[str, Any]) -> None:
        self.events.append((subject, dict(payload)))


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that returns ``at`` (advance it by assigning ``at``)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at
