"""Property tests of the record <-> row mapping through real databases: any text (but NUL),
any time zone, any float within the domain's bounds comes back equal, on SQLite and
PostgreSQL alike; what a database cannot hold is refused before anything is written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from openderms.errors import ValidationError
from openderms.registry.domain import AuditEntry, DerRecord
from openderms.registry.ports import DerQuery
from openderms.store import Store
from openderms.store.tables import DerRow
from tests.store.records import record

text = (
    st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=30)
    .map(str.strip)
    .filter(bool)
)
zones = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
times = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=zones
)


@st.composite
def records(draw: st.DrawFn) -> DerRecord:
    status = draw(st.sampled_from(["submitted", "approved_with_limit", "active", "rejected"]))
    kw = draw(st.floats(min_value=0, max_value=20_000, allow_subnormal=True))
    r = record(
        0,
        status=status,
        der_id=draw(text.map(lambda s: s[:80])),
        installer_id=draw(text.map(lambda s: s[:80])),
        aggregator_id=draw(st.none() | text.map(lambda s: s[:80])),
        bus_id=draw(text.map(lambda s: s[:80])),
        feeder_id=draw(st.none() | text.map(lambda s: s[:80])),
        p_export_kw=kw,
        export_limit_kw=draw(st.floats(min_value=0, max_value=kw)),
    )
    entry = AuditEntry(
        at=draw(times),
        actor=draw(text),
        action="note",
        from_status=r.status,
        to_status=r.status,
        detail=draw(st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"))),
    )
    reg = r.registration.model_copy(update={"owner_name": draw(text)[:120]})
    return r.model_copy(
        update={
            "registration": reg,
            "created_at": draw(times),
            "updated_at": draw(times),
            "audit": (*r.audit, entry),
        }
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(r=records())
def test_any_record_comes_back_equal(sql_store: Store, r: DerRecord) -> None:
    with sql_store.engine.begin() as conn:
        conn.execute(delete(DerRow))
    sql_store.ders.add_many([r])
    assert sql_store.ders.get(r.id) == r
    q = DerQuery(installer_id=r.installer_id, aggregator_id=r.registration.aggregator_id)
    assert sql_store.ders.query(q) == ([r], 1)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": "der\x00"}, "id"),
        ({"installer_id": "in\x00st"}, "installer_id"),
        (
            {
                "audit": (
                    AuditEntry(
                        at=datetime(2026, 1, 1, tzinfo=UTC),
                        actor="a",
                        action="x",
                        from_status=None,
                        to_status="submitted",
                        detail="\x00",
                    ),
                )
            },
            "audit.0.detail",
        ),
    ],
)
def test_nul_characters_are_refused_on_every_backend(
    sql_store: Store, change: dict[str, object], field: str
) -> None:
    bad = record(1).model_copy(update=change)
    with pytest.raises(ValidationError) as info:
        sql_store.ders.add_many([record(2), bad])
    assert info.value.issues[0].field == field
    assert sql_store.ders.count() == 0
