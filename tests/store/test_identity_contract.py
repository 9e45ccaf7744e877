"""Certificate identities in the store, run unchanged against every implementation (in
memory, SQLite, a real PostgreSQL): a DER's ``device_lfdi`` and the aggregators' LFDIs."""

from __future__ import annotations

import pytest

from openderms.errors import ConflictError
from openderms.registry.aggregators import (
    Aggregator,
    AggregatorRepository,
    InMemoryAggregatorRepository,
)
from openderms.registry.domain import DerRecord
from openderms.registry.ports import DerRepository
from openderms.store import Store
from openderms.store.aggregator_repository import SqlAggregatorRepository
from tests.store.records import T0, record

LFDI_A = "A" * 39 + "1"
LFDI_B = "B" * 39 + "2"


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def agg_repo(request: pytest.FixtureRequest) -> AggregatorRepository:
    if request.param == "memory":
        return InMemoryAggregatorRepository()
    store: Store = request.getfixturevalue(
        f"{'pg' if request.param == 'postgresql' else 'sqlite'}_store"
    )
    return SqlAggregatorRepository(store.engine)


def with_lfdi(r: DerRecord, lfdi: str | None) -> DerRecord:
    reg = r.registration.model_copy(update={"device_lfdi": lfdi})
    return r.model_copy(update={"registration": reg})


def test_a_der_lfdi_is_stored_and_found(der_repo: DerRepository) -> None:
    r = with_lfdi(record(1), LFDI_A)
    der_repo.add_many([r, record(2)])
    assert der_repo.get(r.id) == r
    assert der_repo.der_id_by_lfdi(LFDI_A) == r.id
    assert der_repo.der_id_by_lfdi(LFDI_B) is None


def test_a_stored_lfdi_refuses_the_whole_batch(der_repo: DerRepository) -> None:
    der_repo.add_many([with_lfdi(record(1), LFDI_A)])
    with pytest.raises(ConflictError, match=LFDI_A):
        der_repo.add_many([record(2), with_lfdi(record(3), LFDI_A)])
    assert der_repo.get(record(2).id) is None


def test_one_lfdi_twice_in_a_batch_refuses_it(der_repo: DerRepository) -> None:
    with pytest.raises(ConflictError, match=LFDI_B):
        der_repo.add_many([with_lfdi(record(1), LFDI_B), with_lfdi(record(2), LFDI_B)])
    assert der_repo.get(record(1).id) is None


def test_saving_another_der_lfdi_is_a_conflict_and_changes_nothing(
    der_repo: DerRepository,
) -> None:
    first, second = with_lfdi(record(1), LFDI_A), record(2)
    der_repo.add_many([first, second])
    taken = with_lfdi(second, LFDI_A).model_copy(update={"version": 2})
    with pytest.raises(ConflictError, match=LFDI_A):
        der_repo.save(taken, 1)
    assert der_repo.get(second.id) == second
    given = with_lfdi(second, LFDI_B).model_copy(update={"version": 2})
    der_repo.save(given, 1)
    assert der_repo.der_id_by_lfdi(LFDI_B) == second.id


def test_aggregators_come_back_by_id_and_lfdi(agg_repo: AggregatorRepository) -> None:
    b = Aggregator(id="agg-b", name="B Energy", lfdi=LFDI_B, created_at=T0)
    a = Aggregator(id="agg-a", name="", lfdi=LFDI_A, created_at=T0)
    agg_repo.add(b)
    agg_repo.add(a)
    assert agg_repo.get("agg-a") == a
    assert agg_repo.by_lfdi(LFDI_B.lower()) == b
    assert agg_repo.get("agg-c") is None
    assert agg_repo.all() == [a, b]


@pytest.mark.parametrize(
    ("clash", "named"),
    [
        (Aggregator(id="agg-a", lfdi=LFDI_B, created_at=T0), "agg-a"),
        (Aggregator(id="agg-z", lfdi=LFDI_A, created_at=T0), LFDI_A),
    ],
    ids=["same id", "same lfdi"],
)
def test_a_taken_id_or_lfdi_is_a_conflict(
    agg_repo: AggregatorRepository, clash: Aggregator, named: str
) -> None:
    first = Aggregator(id="agg-a", name="A", lfdi=LFDI_A, created_at=T0)
    agg_repo.add(first)
    with pytest.raises(ConflictError, match=named):
        agg_repo.add(clash)
    assert agg_repo.all() == [first]
