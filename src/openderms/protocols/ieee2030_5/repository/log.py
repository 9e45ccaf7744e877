"""LogEvents clients post (``sep_log_event``); the wire model's fields are the columns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Engine, Table, insert, select

from openderms.store.engine import writer
from openderms.store.tables_2030_5 import SepLogEventRow

_L = cast(Table, SepLogEventRow.__table__)


class LogEventRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    def add(self, values: Mapping[str, Any]) -> int:
        with self._writer.begin() as conn:
            return int(conn.execute(insert(_L).values(values).returning(_L.c.id)).scalar_one())

    def of(self, end_device_id: int) -> list[dict[str, Any]]:
        """The device's log events, newest first (createdDateTime descending)."""
        stmt = (
            select(_L)
            .where(_L.c.end_device_id == end_device_id)
            .order_by(_L.c.created_time.desc(), _L.c.id.desc())
        )
        with self._engine.begin() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt).all()]
