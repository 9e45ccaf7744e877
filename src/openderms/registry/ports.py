"""Ports of the registry service: storage, events, clock. Adapters implement them (SQL store
in ``openderms.store``, the message bus in ``openderms.bus``); ``registry.memory`` holds the
in-memory implementations used by tests and the embedded default."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from openderms.registry.domain import DerRecord, Role, Status


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: an installer sees only its own registrations, an aggregator only the DER
    that name it, an operator everything."""

    id: str
    role: Role
    aggregator_id: str | None = None


@dataclass(frozen=True, slots=True)
class DerQuery:
    installer_id: str | None = None
    aggregator_id: str | None = None
    status: Status | None = None
    feeder_id: str | None = None
    offset: int = 0
    limit: int = 100


class DerRepository(Protocol):
    """Stored DER records. Every write is atomic: all of it lands or none of it."""

    def add_many(self, records: Sequence[DerRecord]) -> None:
        """Insert new records (ids and application ids unique; ``ConflictError`` otherwise)."""
        ...

    def get(self, der_id: str) -> DerRecord | None: ...

    def save(self, record: DerRecord, expected_version: int) -> None:
        """Replace a record (with its new audit entries) if the stored version is
        ``expected_version`` (``ConflictError`` otherwise); ``record.version`` is the new one."""
        ...

    def query(self, q: DerQuery) -> tuple[list[DerRecord], int]:
        """One page of records (ordered by id) and the total count matching ``q``."""
        ...

    def der_id_by_lfdi(self, lfdi: str) -> str | None:
        """The DER whose registration carries ``lfdi`` (upper case), if any."""
        ...

    def granted_export_kw_by_bus(self) -> Mapping[str, float]:
        """Export already granted per bus: approved (with or without limit), provisioned,
        active or suspended DER (suspended capacity is still reserved)."""
        ...


class EventPublisher(Protocol):
    """Fire-and-forget domain events (the message bus adapter implements it)."""

    def publish(self, subject: str, payload: Mapping[str, Any]) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware UTC now."""
        ...
