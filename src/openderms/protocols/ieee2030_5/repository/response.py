"""Responses clients post about DERControls (``sep_der_control_response``)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, cast

from sqlalchemy import ColumnElement, Engine, Row, Table, insert, or_, select

from openderms.protocols.ieee2030_5.domain import ControlResponse
from openderms.store.engine import writer
from openderms.store.tables_2030_5 import SepDerControlResponseRow, SepEndDeviceRow

_R = cast(Table, SepDerControlResponseRow.__table__)
_E = cast(Table, SepEndDeviceRow.__table__)
_ORDER = (_R.c.created_time.desc(), _R.c.id.desc())
_IN_CHUNK = 500  # mRIDs per IN (...) list: well inside every backend's parameter limit


def _response(row: Row[Any]) -> ControlResponse:
    m = row._mapping
    return ControlResponse(
        id=m["id"],
        control_mrid=m["control_mrid"],
        end_device_id=m["end_device_id"],
        lfdi=m["lfdi"],
        der_id=m["der_id"],
        status=m["status"],
        created_time=m["created_time"],
        received_at=m["received_at"],
    )


def _joined() -> Any:
    return select(_R, _E.c.lfdi, _E.c.der_id).join(_E, _E.c.id == _R.c.end_device_id)


class ResponseRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    def add(self, values: Mapping[str, Any]) -> ControlResponse:
        with self._writer.begin() as conn:
            new_id = conn.execute(insert(_R).values(values).returning(_R.c.id)).scalar_one()
            return _response(conn.execute(_joined().where(_R.c.id == new_id)).one())

    def visible_to(self, lfdi: str, aggregator: bool) -> list[ControlResponse]:
        """Responses of the EndDevices ``lfdi`` may see, newest first."""
        mine: ColumnElement[bool] = (
            or_(_E.c.lfdi == lfdi, _E.c.aggregator_lfdi == lfdi)
            if aggregator
            else (_E.c.lfdi == lfdi)
        )
        with self._engine.begin() as conn:
            rows = conn.execute(_joined().where(mine).order_by(*_ORDER)).all()
        return [_response(r) for r in rows]

    def of_control(self, control_mrid: str) -> list[ControlResponse]:
        """Every response about one control, oldest first."""
        return self.of_controls([control_mrid])

    def of_controls(self, control_mrids: Collection[str]) -> list[ControlResponse]:
        """Every response about any of these controls, oldest first (one query per
        ``_IN_CHUNK`` mRIDs, however many controls the caller follows)."""
        mrids = sorted(set(control_mrids))
        out: list[ControlResponse] = []
        if not mrids:
            return out
        with self._engine.begin() as conn:
            for i in range(0, len(mrids), _IN_CHUNK):
                chunk = mrids[i : i + _IN_CHUNK]
                stmt = _joined().where(_R.c.control_mrid.in_(chunk))
                out.extend(_response(r) for r in conn.execute(stmt).all())
        out.sort(key=lambda r: (r.created_time, r.id))
        return out
