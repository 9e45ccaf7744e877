"""What only the SQL store does, on SQLite and on a real PostgreSQL (the ``sql_store``
fixture): migrations, reopening, tokens, times, and refusing what would corrupt it."""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from openderms.errors import ConflictError, ValidationError
from openderms.registry.ports import Actor, DerQuery
from openderms.store import Store, migrate, open_store
from openderms.store.engine import normalise_url
from openderms.store.schema import alembic_config, current_revision, head_revision
from openderms.store.tables import ApiTokenRow, Base, DerAuditRow
from tests.store.records import T0, record


def test_the_models_and_the_migrations_describe_the_same_schema(sql_store: Store) -> None:
    with sql_store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_migrating_again_changes_nothing(sql_store: Store) -> None:
    sql_store.ders.add_many([record(1)])
    migrate(sql_store.engine)
    migrate(sql_store.url)
    assert current_revision(sql_store.engine) == head_revision()
    assert sql_store.ders.count() == 1


def test_migrations_go_down_and_up_again(sql_store: Store) -> None:
    with sql_store.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert set(inspect(sql_store.engine).get_table_names()) == {"alembic_version"}
    migrate(sql_store.engine)
    assert {"der", "der_audit", "api_token"} <= set(inspect(sql_store.engine).get_table_names())


def test_a_reopened_store_keeps_its_data(sql_store: Store) -> None:
    r = record(1, status="active", aggregator_id="agg-1")
    sql_store.ders.add_many([r])
    token = sql_store.tokens.create(Actor("inst-1", "installer"))
    url = sql_store.url.render_as_string(hide_password=False)
    with open_store(url) as again:
        assert again.ders.get(r.id) == r
        assert again.tokens.resolve(token) == Actor("inst-1", "installer")


def test_a_sqlite_store_creates_its_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'new' / 'folder' / 'openderms.db').as_posix()}"
    with open_store(url) as store:
        assert store.ders.count() == 0
    assert (tmp_path / "new" / "folder" / "openderms.db").is_file()


def test_plain_postgresql_urls_use_psycopg_3() -> None:
    assert normalise_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:///x.db").drivername == "sqlite"


def test_tokens_stand_for_their_actor_until_revoked(sql_store: Store) -> None:
    tokens = sql_store.tokens
    installer = Actor("inst-1", "installer")
    aggregator = Actor("agg-user", "aggregator", aggregator_id="agg-1")
    t1, t2 = tokens.create(installer), tokens.create(aggregator)
    assert t1 != t2
    assert len(t1) >= 40
    assert tokens.resolve(t1) == installer
    assert tokens.resolve(t2) == aggregator
    assert tokens.resolve("not-a-token") is None
    assert tokens.revoke(t1) is True
    assert tokens.revoke(t1) is False
    assert tokens.resolve(t1) is None
    assert tokens.resolve(t2) == aggregator


def test_only_the_hash_of_a_token_is_stored(sql_store: Store) -> None:
    token = sql_store.tokens.create(Actor("op-1", "operator"))
    with sql_store.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(select(ApiTokenRow.__table__))]
    assert len(rows) == 1
    assert not any(token in str(value) for value in rows[0])
    assert hashlib.sha256(token.encode()).hexdigest() in rows[0]


def test_times_come_back_as_the_same_instant_in_utc(sql_store: Store) -> None:
    plus_two = timezone(timedelta(hours=2))
    r = record(1).model_copy(update={"created_at": T0.astimezone(plus_two)})
    sql_store.ders.add_many([r])
    stored = sql_store.ders.get(r.id)
    assert stored is not None
    assert stored.created_at == T0
    assert stored.created_at.utcoffset() == timedelta(0)
    assert stored.created_at.microsecond == 123456
    assert all(e.at.utcoffset() == timedelta(0) for e in stored.audit)


def test_a_naive_time_is_refused_naming_the_der_and_field(sql_store: Store) -> None:
    naive = datetime(2026, 6, 1, 12, 0)
    bad = record(2).model_copy(update={"updated_at": naive})
    with pytest.raises(ValidationError) as info:
        sql_store.ders.add_many([record(1), bad])
    (issue,) = info.value.issues
    assert (issue.object_id, issue.field) == ("der-000002", "updated_at")
    assert sql_store.ders.count() == 0


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_non_finite_screening_number_is_refused(sql_store: Store, value: float) -> None:
    r = record(1, status="approved")
    assert r.screening is not None
    bad = r.model_copy(
        update={"screening": r.screening.model_copy(update={"v_worst_after_pu": value})}
    )
    with pytest.raises(ValidationError, match=r"screening\.v_worst_after_pu"):
        sql_store.ders.add_many([bad])
    sql_store.ders.add_many([r])
    with pytest.raises(ValidationError):
        sql_store.ders.save(bad.model_copy(update={"version": 2}), expected_version=1)
    assert sql_store.ders.get(r.id) == r


def test_the_audit_trail_is_append_only(sql_store: Store) -> None:
    r = record(1, status="approved")
    sql_store.ders.add_many([r])
    shortened = r.model_copy(update={"audit": r.audit[:1], "version": 2})
    with pytest.raises(ConflictError, match="append-only"):
        sql_store.ders.save(shortened, expected_version=1)
    assert sql_store.ders.get(r.id) == r


def test_save_appends_only_new_audit_rows(sql_store: Store) -> None:
    r = record(1, status="approved")
    sql_store.ders.add_many([r])
    with sql_store.engine.begin() as conn:  # mark the stored rows: a rewrite would lose this
        conn.execute(text("UPDATE der_audit SET detail = 'kept' WHERE seq = 1"))
    later = r.model_copy(update={"status": "provisioned", "version": 2})
    sql_store.ders.save(later, expected_version=1)
    with sql_store.engine.connect() as conn:
        details = conn.scalars(select(DerAuditRow.detail).order_by(DerAuditRow.seq)).all()
    assert details == ["kept", "moved for the test"]


def test_save_to_an_application_id_of_another_der_is_a_conflict(sql_store: Store) -> None:
    a, b = record(1), record(2)
    sql_store.ders.add_many([a, b])
    stolen = b.model_copy(
        update={"registration": a.registration, "version": 2},
    )
    with pytest.raises(ConflictError, match=r"APP-000001.*der-000001"):
        sql_store.ders.save(stolen, expected_version=1)
    assert sql_store.ders.get(b.id) == b


def test_concurrent_saves_of_one_version_let_exactly_one_win(sql_store: Store) -> None:
    r = record(1, status="active")
    sql_store.ders.add_many([r])
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def writer(n: int) -> None:
        update = {"updated_at": T0 + timedelta(seconds=n), "version": 2}
        barrier.wait()
        try:
            sql_store.ders.save(r.model_copy(update=update), expected_version=1)
            outcomes.append("saved")
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "saved"]
    stored = sql_store.ders.get(r.id)
    assert stored is not None
    assert stored.version == 2


def test_a_large_batch_lands_whole(sql_store: Store) -> None:
    batch = [record(n, status="active", bus_id=f"b{n % 7}") for n in range(3_000)]
    sql_store.ders.add_many(batch)
    page, total = sql_store.ders.query(DerQuery(offset=2_990, limit=100))
    assert total == 3_000
    assert page == batch[2_990:]
    assert sum(sql_store.ders.granted_export_kw_by_bus().values()) == pytest.approx(3_000 * 7.6)
