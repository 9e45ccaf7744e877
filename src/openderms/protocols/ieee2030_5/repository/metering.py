"""Metering mirrors: MirrorUsagePoints, their MirrorMeterReadings, and the append-only
telemetry table (``sep_reading``), written many rows per statement."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, Row, Table, func, insert, or_, select, update

from openderms.protocols.ieee2030_5.domain import MirrorMeterReadingRecord, MirrorUsagePointRecord
from openderms.store.engine import writer
from openderms.store.tables_2030_5 import (
    SepEndDeviceRow,
    SepMirrorMeterReadingRow,
    SepMirrorUsagePointRow,
    SepReadingRow,
)

_U = cast(Table, SepMirrorUsagePointRow.__table__)
_M = cast(Table, SepMirrorMeterReadingRow.__table__)
_R = cast(Table, SepReadingRow.__table__)
_E = cast(Table, SepEndDeviceRow.__table__)


def _mup(row: Row[Any]) -> MirrorUsagePointRecord:
    m = row._mapping
    return MirrorUsagePointRecord(**{k: m[k] for k in (c.key for c in _U.columns)})


def _mmr(row: Row[Any]) -> MirrorMeterReadingRecord:
    m = row._mapping
    return MirrorMeterReadingRecord(**{k: m[k] for k in (c.key for c in _M.columns)})


class MeteringRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    # -- usage points -------------------------------------------------------------------

    def point(
        self, mup_id: int
    ) -> tuple[MirrorUsagePointRecord, list[MirrorMeterReadingRecord]] | None:
        """A usage point and its MirrorMeterReadings (by id), in one transaction."""
        with self._engine.begin() as conn:
            row = conn.execute(select(_U).where(_U.c.id == mup_id)).first()
            if row is None:
                return None
            mmrs = conn.execute(select(_M).where(_M.c.mup_id == mup_id).order_by(_M.c.id)).all()
        return _mup(row), [_mmr(r) for r in mmrs]

    def mup_by_mrid(self, mrid: str) -> MirrorUsagePointRecord | None:
        with self._engine.begin() as conn:
            row = conn.execute(select(_U).where(_U.c.mrid == mrid)).first()
        return _mup(row) if row is not None else None

    def mups_for(self, lfdi: str, aggregator: bool) -> list[tuple[MirrorUsagePointRecord, str]]:
        """The usage points of the EndDevices ``lfdi`` may see, with their device's LFDI,
        by id."""
        mine = (
            or_(_E.c.lfdi == lfdi, _E.c.aggregator_lfdi == lfdi)
            if aggregator
            else (_E.c.lfdi == lfdi)
        )
        stmt = (
            select(_U, _E.c.lfdi.label("device_lfdi"))
            .join(_E, _E.c.id == _U.c.end_device_id)
            .where(mine)
            .order_by(_U.c.id)
        )
        with self._engine.begin() as conn:
            return [(_mup(r), r.device_lfdi) for r in conn.execute(stmt).all()]

    def save_mup(self, values: Mapping[str, Any], mup_id: int | None) -> MirrorUsagePointRecord:
        """Insert (``mup_id`` None) or update a usage point."""
        with self._writer.begin() as conn:
            if mup_id is None:
                mup_id = conn.execute(insert(_U).values(values).returning(_U.c.id)).scalar_one()
            else:
                conn.execute(update(_U).where(_U.c.id == mup_id).values(values))
            return _mup(conn.execute(select(_U).where(_U.c.id == mup_id)).one())

    # -- meter readings -----------------------------------------------------------------

    def mmr_by_mrid(self, mrid: str) -> MirrorMeterReadingRecord | None:
        with self._engine.begin() as conn:
            row = conn.execute(select(_M).where(_M.c.mrid == mrid)).first()
        return _mmr(row) if row is not None else None

    def save_mmr(self, values: Mapping[str, Any], mmr_id: int | None) -> MirrorMeterReadingRecord:
        with self._writer.begin() as conn:
            if mmr_id is None:
                mmr_id = conn.execute(insert(_M).values(values).returning(_M.c.id)).scalar_one()
            else:
                conn.execute(update(_M).where(_M.c.id == mmr_id).values(values))
            return _mmr(conn.execute(select(_M).where(_M.c.id == mmr_id)).one())

    # -- telemetry ----------------------------------------------------------------------

    def append_readings(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append rows of ``sep_reading`` in one transaction (one executemany)."""
        if rows:
            with self._writer.begin() as conn:
                conn.execute(insert(_R), list(rows))

    def reading_count(self, since: datetime | None = None) -> int:
        stmt = select(func.count()).select_from(_R)
        if since is not None:
            stmt = stmt.where(_R.c.received_at >= since)
        with self._engine.begin() as conn:
            return int(conn.execute(stmt).scalar_one())
