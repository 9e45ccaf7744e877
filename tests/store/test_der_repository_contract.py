"""The ``DerRepository`` contract, run unchanged against every implementation: the in-memory
reference, SQLite and a real PostgreSQL server (the ``der_repo`` fixture)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from openderms.errors import ConflictError
from openderms.registry.domain import AuditEntry, DerRecord
from openderms.registry.ports import DerQuery, DerRepository
from tests.store.records import T0, record


def _all(repo: DerRepository) -> list[DerRecord]:
    page, _ = repo.query(DerQuery(limit=1_000_000))
    return page


def test_added_records_come_back_equal(der_repo: DerRepository) -> None:
    records = [
        record(1),
        record(2, status="approved_with_limit", export_limit_kw=3.5, aggregator_id="agg-1"),
        record(3, status="active", feeder_id=None),
        record(4, status="rejected"),
    ]
    der_repo.add_many(records)
    for r in records:
        assert der_repo.get(r.id) == r
    assert der_repo.get("der-000404") is None
    assert _all(der_repo) == records


def test_an_empty_batch_writes_nothing(der_repo: DerRepository) -> None:
    der_repo.add_many([])
    assert der_repo.query(DerQuery()) == ([], 0)


def test_a_stored_id_refuses_the_whole_batch(der_repo: DerRepository) -> None:
    der_repo.add_many([record(1)])
    clash = record(9, der_id="der-000001")
    with pytest.raises(ConflictError, match="der-000001"):
        der_repo.add_many([record(2), clash])
    assert [r.id for r in _all(der_repo)] == ["der-000001"]
    assert der_repo.get("der-000002") is None


def test_a_stored_application_id_refuses_the_whole_batch(der_repo: DerRepository) -> None:
    der_repo.add_many([record(1)])
    clash = record(1, der_id="der-other")  # same application APP-000001
    with pytest.raises(ConflictError, match="APP-000001"):
        der_repo.add_many([record(2), clash])
    assert [r.id for r in _all(der_repo)] == ["der-000001"]


@pytest.mark.parametrize(
    ("second", "named"),
    [(record(5, der_id="der-000001"), "der-000001"), (record(1, der_id="x"), "APP-000001")],
    ids=["same id", "same application id"],
)
def test_duplicates_within_a_batch_are_refused(
    der_repo: DerRepository, second: DerRecord, named: str
) -> None:
    with pytest.raises(ConflictError, match=named):
        der_repo.add_many([record(1), second])
    assert der_repo.query(DerQuery()) == ([], 0)


def test_a_bad_record_at_the_end_of_a_big_batch_leaves_nothing_half_written(
    der_repo: DerRepository,
) -> None:
    der_repo.add_many([record(0)])
    batch = [record(n, status="approved") for n in range(1, 1_201)]
    batch.append(record(0, der_id="der-late"))  # application APP-000000 is taken
    with pytest.raises(ConflictError, match="APP-000000"):
        der_repo.add_many(batch)
    assert der_repo.query(DerQuery())[1] == 1
    assert der_repo.granted_export_kw_by_bus() == {}
    der_repo.add_many(batch[:-1])  # the same batch, without the bad record, lands whole
    assert der_repo.query(DerQuery())[1] == 1_201


def _screened(r: DerRecord, actor: str = "op-1") -> DerRecord:
    entry = AuditEntry(
        at=T0 + timedelta(minutes=5),
        actor=actor,
        action="suspend",
        from_status=r.status,
        to_status="suspended",
        detail="operator override",
    )
    return r.model_copy(
        update={
            "status": "suspended",
            "updated_at": T0 + timedelta(minutes=5),
            "audit": (*r.audit, entry),
            "version": r.version + 1,
        }
    )


def test_save_replaces_the_record_and_appends_its_audit(der_repo: DerRepository) -> None:
    r = record(1, status="active")
    der_repo.add_many([r])
    changed = _screened(r)
    der_repo.save(changed, expected_version=1)
    assert der_repo.get(r.id) == changed
    again = _screened(changed, actor="op-2")
    der_repo.save(again, expected_version=2)
    stored = der_repo.get(r.id)
    assert stored == again
    assert stored is not None
    assert [e.actor for e in stored.audit] == ["inst-1", "system", "op-1", "op-2"]


def test_save_on_a_stale_version_is_a_conflict_and_changes_nothing(
    der_repo: DerRepository,
) -> None:
    r = record(1, status="active")
    der_repo.add_many([r])
    der_repo.save(_screened(r), expected_version=1)
    with pytest.raises(ConflictError, match=r"version 2, not 1"):
        der_repo.save(_screened(r, actor="late"), expected_version=1)
    stored = der_repo.get(r.id)
    assert stored is not None
    assert stored.version == 2
    assert [e.actor for e in stored.audit][-1] == "op-1"


def test_save_of_an_unknown_record_is_a_conflict(der_repo: DerRepository) -> None:
    with pytest.raises(ConflictError, match="der-000001"):
        der_repo.save(record(1), expected_version=1)
    assert der_repo.get("der-000001") is None


@pytest.fixture
def fleet(der_repo: DerRepository) -> DerRepository:
    der_repo.add_many(
        [
            record(1, installer_id="inst-a", feeder_id="F1"),
            record(2, installer_id="inst-a", status="approved", feeder_id="F2"),
            record(3, installer_id="inst-b", status="approved", aggregator_id="agg-1"),
            record(4, installer_id="inst-b", status="active", aggregator_id="agg-1"),
            record(5, installer_id="inst-c", status="active", aggregator_id="agg-2"),
            record(6, installer_id="inst-c", status="rejected", feeder_id="F2"),
        ]
    )
    return der_repo


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (DerQuery(), [1, 2, 3, 4, 5, 6]),
        (DerQuery(installer_id="inst-a"), [1, 2]),
        (DerQuery(aggregator_id="agg-1"), [3, 4]),
        (DerQuery(status="active"), [4, 5]),
        (DerQuery(feeder_id="F2"), [2, 6]),
        # an unscreened DER has no feeder yet, whatever its registration says
        (DerQuery(feeder_id="F1"), [3, 4, 5]),
        (DerQuery(installer_id="inst-b", status="active"), [4]),
        (DerQuery(installer_id="inst-a", aggregator_id="agg-1"), []),
        (DerQuery(status="decommissioned"), []),
    ],
)
def test_query_filters(fleet: DerRepository, q: DerQuery, expected: list[int]) -> None:
    page, total = fleet.query(q)
    assert [r.id for r in page] == [f"der-{n:06d}" for n in expected]
    assert total == len(expected)


@pytest.mark.parametrize(
    ("offset", "limit", "expected"),
    [(0, 2, [1, 2]), (2, 2, [3, 4]), (4, 10, [5, 6]), (6, 10, []), (50, 1, []), (1, 0, [])],
)
def test_query_pages_in_id_order_with_the_full_total(
    fleet: DerRepository, offset: int, limit: int, expected: list[int]
) -> None:
    page, total = fleet.query(DerQuery(offset=offset, limit=limit))
    assert [r.id for r in page] == [f"der-{n:06d}" for n in expected]
    assert total == 6


def test_ids_order_by_code_point_on_every_backend(der_repo: DerRepository) -> None:
    ids = ["b-1", "B-2", "a_1", "a-1", "A", "Z", "z", "10", "9", "é"]
    der_repo.add_many([record(n, der_id=i) for n, i in enumerate(ids)])
    assert [r.id for r in _all(der_repo)] == sorted(ids)


def test_granted_export_per_bus(der_repo: DerRepository) -> None:
    der_repo.add_many(
        [
            record(1, status="approved", bus_id="b1", p_export_kw=5.0),
            record(
                2, status="approved_with_limit", bus_id="b1", p_export_kw=9.0, export_limit_kw=4.0
            ),
            record(3, status="provisioned", bus_id="b2", p_export_kw=7.5),
            record(4, status="active", bus_id="b2", p_export_kw=2.5),
            record(5, status="suspended", bus_id="b3", p_export_kw=1.25),
            # these hold nothing
            record(6, status="rejected", bus_id="b1", p_export_kw=50.0),
            record(7, status="decommissioned", bus_id="b4", p_export_kw=50.0),
            record(8, status="submitted", bus_id="b4", p_export_kw=50.0),
            record(
                9, status="approved_with_limit", bus_id="b5", p_export_kw=8.0, export_limit_kw=0.0
            ),
        ]
    )
    granted = der_repo.granted_export_kw_by_bus()
    assert granted == pytest.approx({"b1": 9.0, "b2": 10.0, "b3": 1.25})


def test_granted_export_follows_saves(der_repo: DerRepository) -> None:
    r = record(1, status="active", bus_id="b1", p_export_kw=6.0)
    der_repo.add_many([r])
    assert der_repo.granted_export_kw_by_bus() == pytest.approx({"b1": 6.0})
    gone = r.model_copy(update={"status": "decommissioned", "version": 2})
    der_repo.save(gone, expected_version=1)
    assert der_repo.granted_export_kw_by_bus() == {}
    assert der_repo.query(DerQuery(status="active")) == ([], 0)
    assert der_repo.query(DerQuery(status="decommissioned"))[1] == 1
