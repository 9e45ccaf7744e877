"""Aggregators and the certificate identities (LFDIs) of the registry.

An aggregator (``Registration.comm_path == "aggregator"``, ``aggregator_id``) speaks IEEE
2030.5 for the DER that name it with one client certificate; its LFDI is registered once, by
an operator (``openderms aggregator add ID --cert FILE.pem``, ``POST /api/v1/aggregators``). A
DER that speaks for itself carries the LFDI of its inverter's certificate in its registration
(``Registration.device_lfdi``). An LFDI is unique across DER and aggregators: two holders of
one certificate could not be told apart by the 2030.5 server.

    registry = AggregatorRegistry(aggregators, ders, clock)
    registry.add(parse_aggregator({"id": "agg-1", "lfdi": "..."}), operator)
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator

from openderms.errors import (
    ConflictError,
    PermissionDeniedError,
    ValidationError,
    ValidationIssue,
)
from openderms.registry.domain import LFDI_EXPECTED, issues_from_pydantic, parse_lfdi
from openderms.registry.ports import Actor, Clock, DerRepository, EventPublisher


class AggregatorIn(BaseModel):
    """What an operator registers for an aggregator."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    id: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.:-]+$")
    name: str = Field("", max_length=120)
    lfdi: str = Field(description="LFDI of its 2030.5 client certificate, 40 hex digits")

    @field_validator("lfdi", mode="before")
    @classmethod
    def _lfdi(cls, value: object) -> str:
        return parse_lfdi(value)


class Aggregator(AggregatorIn):
    """An aggregator as stored."""

    created_at: datetime


def lfdi_of_pem(pem: bytes, object_id: str, field: str = "certificate_pem") -> str:
    """The LFDI (upper case) of the PEM certificate ``pem`` (``ValidationError`` naming
    ``field`` when it is not one)."""
    from cryptography import x509

    from openderms.protocols.ieee2030_5.security.identity import lfdi_from_cert

    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        shown = pem[:40].decode("utf-8", "replace")
        issue = ValidationIssue("aggregator", object_id, field, shown, "a PEM X.509 certificate")
        raise ValidationError([issue]) from None
    return lfdi_from_cert(cert).upper()


def parse_aggregator(data: object) -> AggregatorIn:
    """Validate raw input (``ValidationError`` naming every bad field and its value)."""
    try:
        return AggregatorIn.model_validate(data)
    except pydantic.ValidationError as exc:
        oid = str(data.get("id", "(new)")) if isinstance(data, dict) else "(new)"
        raise ValidationError(issues_from_pydantic(exc, "aggregator", oid)) from None


class AggregatorRepository(Protocol):
    """Stored aggregators (ids and LFDIs unique; ``ConflictError`` otherwise)."""

    def add(self, aggregator: Aggregator) -> None: ...

    def get(self, aggregator_id: str) -> Aggregator | None: ...

    def by_lfdi(self, lfdi: str) -> Aggregator | None: ...

    def all(self) -> list[Aggregator]:
        """Every aggregator, ordered by id."""
        ...


class InMemoryAggregatorRepository:
    """A dict behind a lock; same contract as the SQL repository."""

    def __init__(self) -> None:
        self._items: dict[str, Aggregator] = {}
        self._lock = threading.Lock()

    def add(self, aggregator: Aggregator) -> None:
        with self._lock:
            if aggregator.id in self._items:
                raise ConflictError(f"aggregator {aggregator.id!r} already exists")
            if any(a.lfdi == aggregator.lfdi for a in self._items.values()):
                raise ConflictError(f"LFDI {aggregator.lfdi} is already registered")
            self._items[aggregator.id] = aggregator

    def get(self, aggregator_id: str) -> Aggregator | None:
        return self._items.get(aggregator_id)

    def by_lfdi(self, lfdi: str) -> Aggregator | None:
        return next((a for a in self._items.values() if a.lfdi == lfdi.upper()), None)

    def all(self) -> list[Aggregator]:
        return sorted(self._items.values(), key=lambda a: a.id)


def lfdi_issues(
    claims: Iterable[tuple[str, str, str | None]],
    ders: DerRepository,
    aggregators: AggregatorRepository | None,
) -> list[ValidationIssue]:
    """Issues for every LFDI claimed twice: ``claims`` are (object kind, object id, LFDI),
    the object id of a stored DER for an update (its own LFDI is no clash), a label like
    "row 3" for new ones. An LFDI may not be claimed twice in ``claims``, nor held by another
    stored DER or by an aggregator."""
    out: list[ValidationIssue] = []
    first: dict[str, str] = {}
    for kind, oid, lfdi in claims:
        if lfdi is None:
            continue
        holder = first.setdefault(lfdi, oid)
        if holder != oid:
            out.append(_taken(kind, oid, lfdi, f"{holder} of the same batch"))
            continue
        der = ders.der_id_by_lfdi(lfdi)
        if der is not None and der != oid:
            out.append(_taken(kind, oid, lfdi, f"DER {der}"))
            continue
        agg = aggregators.by_lfdi(lfdi) if aggregators is not None else None
        if agg is not None and (kind != "aggregator" or agg.id != oid):
            out.append(_taken(kind, oid, lfdi, f"aggregator {agg.id}"))
    return out


def _taken(kind: str, oid: str, lfdi: str, holder: str) -> ValidationIssue:
    field = "lfdi" if kind == "aggregator" else "device_lfdi"
    return ValidationIssue(
        kind, oid, field, lfdi, f"{LFDI_EXPECTED} not registered yet (held by {holder})"
    )


class AggregatorRegistry:
    """Registering aggregators (operators only) with their certificate's LFDI; each one added
    is announced as ``der.aggregator_added`` {id, lfdi} (the DER behind it may now be
    served) through ``events`` when given."""

    def __init__(
        self,
        aggregators: AggregatorRepository,
        ders: DerRepository,
        clock: Clock,
        events: EventPublisher | None = None,
    ) -> None:
        self._aggregators, self._ders, self._clock = aggregators, ders, clock
        self._events = events
        self._lock = threading.Lock()

    def add(self, data: AggregatorIn, actor: Actor) -> Aggregator:
        """Register an aggregator (``ValidationError`` when its LFDI is held by a DER or
        another aggregator, ``ConflictError`` when its id is taken)."""
        if actor.role != "operator":
            raise PermissionDeniedError("only an operator registers aggregators")
        with self._lock:
            if self._aggregators.get(data.id) is not None:
                raise ConflictError(f"aggregator {data.id!r} already exists")
            issues = lfdi_issues(
                [("aggregator", data.id, data.lfdi)], self._ders, self._aggregators
            )
            if issues:
                raise ValidationError(issues)
            agg = Aggregator(**data.model_dump(), created_at=self._clock.now())
            self._aggregators.add(agg)
        if self._events is not None:
            self._events.publish("der.aggregator_added", {"id": agg.id, "lfdi": agg.lfdi})
        return agg

    def get(self, aggregator_id: str) -> Aggregator | None:
        return self._aggregators.get(aggregator_id)

    def list(self) -> Sequence[Aggregator]:
        return self._aggregators.all()
