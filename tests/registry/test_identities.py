"""Certificate identities in the registry: a DER's ``device_lfdi`` (40 hex digits, upper
case once parsed) and aggregators' LFDIs, unique across both; every refusal names the object,
the field and the value, and stores nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from openderms.errors import ConflictError, PermissionDeniedError, ValidationError
from openderms.registry.aggregators import (
    AggregatorRegistry,
    InMemoryAggregatorRepository,
    parse_aggregator,
)
from openderms.registry.domain import parse_registration
from openderms.registry.memory import FixedClock, InMemoryDerRepository, RecordingPublisher
from openderms.registry.ports import Actor, DerQuery
from openderms.registry.service import RegistryService
from openderms.sim.twin import Twin
from tests.registry.conftest import registration

NOW = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
INSTALLER = Actor("inst-1", "installer")
OPERATOR = Actor("op-1", "operator")
LFDI = "3e4f45ab31edfe5b67e343e5e4562e31984e23e5"


class World:
    def __init__(self, twin: Twin) -> None:
        self.ders = InMemoryDerRepository()
        self.aggs = InMemoryAggregatorRepository()
        clock = FixedClock(NOW)
        self.events = RecordingPublisher()
        self.service = RegistryService(
            twin.network,
            self.ders,
            self.events,
            clock,
            injections=twin.injections,
            aggregators=self.aggs,
        )
        self.aggregators = AggregatorRegistry(self.aggs, self.ders, clock)

    def count(self) -> int:
        return self.ders.query(DerQuery())[1]


@pytest.fixture
def w(small: Twin) -> World:
    return World(small)


def test_an_lfdi_is_kept_in_upper_case(w: World) -> None:
    rec = w.service.register(registration("APP-1", device_lfdi=f" {LFDI} "), INSTALLER)
    assert rec.registration.device_lfdi == LFDI.upper()
    assert w.ders.der_id_by_lfdi(LFDI.upper()) == rec.id


@pytest.mark.parametrize("bad", ["12345", LFDI[:-1] + "g", LFDI + "0"])
def test_a_bad_lfdi_names_the_field_and_value(bad: str) -> None:
    data = registration("APP-1").model_dump() | {"device_lfdi": bad}
    with pytest.raises(ValidationError) as info:
        parse_registration(data)
    [issue] = info.value.issues
    assert (issue.object_kind, issue.field, issue.value) == ("registration", "device_lfdi", bad)
    assert "40 hex digits" in issue.expected


def test_an_lfdi_held_by_another_der_is_refused_storing_nothing(w: World) -> None:
    first = w.service.register(registration("APP-1", device_lfdi=LFDI), INSTALLER)
    with pytest.raises(ValidationError) as info:
        w.service.register(registration("APP-2", device_lfdi=LFDI.upper()), INSTALLER)
    [issue] = info.value.issues
    assert (issue.field, issue.value) == ("device_lfdi", LFDI.upper())
    assert first.id in issue.expected
    assert w.count() == 1


def test_one_lfdi_twice_in_a_batch_names_the_second_row(w: World) -> None:
    regs = [registration(f"APP-{n}", device_lfdi=LFDI) for n in (1, 2)]
    with pytest.raises(ValidationError) as info:
        w.service.register_many(regs, INSTALLER)
    [issue] = info.value.issues
    assert (issue.object_id, issue.field) == ("row 2", "device_lfdi")
    assert w.count() == 0


def test_an_update_may_add_the_lfdi_later(w: World) -> None:
    rec = w.service.register(registration("APP-1"), INSTALLER)
    assert rec.registration.device_lfdi is None
    new = w.service.update(rec.id, registration("APP-1", device_lfdi=LFDI), OPERATOR, rec.version)
    assert new.registration.device_lfdi == LFDI.upper()
    assert new.status == "provisioned"


def test_an_aggregator_lfdi_is_unique_across_der_and_aggregators(w: World) -> None:
    agg = w.aggregators.add(parse_aggregator({"id": "agg-1", "lfdi": LFDI}), OPERATOR)
    assert agg.lfdi == LFDI.upper()
    with pytest.raises(ValidationError) as info:
        w.service.register(registration("APP-1", device_lfdi=LFDI), INSTALLER)
    assert "aggregator agg-1" in info.value.issues[0].expected
    other = "0" * 40
    w.service.register(registration("APP-2", device_lfdi=other), INSTALLER)
    with pytest.raises(ValidationError) as info:
        w.aggregators.add(parse_aggregator({"id": "agg-2", "lfdi": other}), OPERATOR)
    [issue] = info.value.issues
    assert (issue.object_kind, issue.object_id, issue.field) == ("aggregator", "agg-2", "lfdi")
    with pytest.raises(ConflictError, match="agg-1"):
        w.aggregators.add(parse_aggregator({"id": "agg-1", "lfdi": "1" * 40}), OPERATOR)
    assert [a.id for a in w.aggregators.list()] == ["agg-1"]


def test_only_an_operator_registers_aggregators(w: World) -> None:
    with pytest.raises(PermissionDeniedError):
        w.aggregators.add(parse_aggregator({"id": "agg-1", "lfdi": LFDI}), INSTALLER)
    assert w.aggregators.list() == []


def test_a_bad_aggregator_names_field_and_value() -> None:
    with pytest.raises(ValidationError) as info:
        parse_aggregator({"id": "agg 1", "lfdi": "xyz"})
    fields = {(i.object_id, i.field, i.value) for i in info.value.issues}
    assert fields == {("agg 1", "id", "agg 1"), ("agg 1", "lfdi", "xyz")}


def test_the_service_registers_aggregators_and_announces_them(w: World) -> None:
    assert w.service.aggregators is not None
    w.service.aggregators.add(parse_aggregator({"id": "agg-1", "lfdi": LFDI}), OPERATOR)
    assert w.events.events == [("der.aggregator_added", {"id": "agg-1", "lfdi": LFDI.upper()})]
    assert w.aggs.get("agg-1") is not None
