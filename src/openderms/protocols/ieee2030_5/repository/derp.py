"""DER programs, their controls, default control and curves."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, Row, Table, insert, or_, select, update

from openderms.protocols.ieee2030_5.domain import DerControl, DerCurveRecord, DerProgram
from openderms.protocols.ieee2030_5.schema.derp import (
    SUPERSEDED,
    DefaultDERControl,
    DERControlBase,
    DERCurve,
)
from openderms.store.engine import writer
from openderms.store.tables_2030_5 import (
    SepDerControlRow,
    SepDerCurveRow,
    SepDerProgramRow,
    SepEndDeviceFsaRow,
    SepEndDeviceRow,
)

_P = cast(Table, SepDerProgramRow.__table__)
_C = cast(Table, SepDerControlRow.__table__)


def _program(row: Row[Any]) -> DerProgram:
    m = row._mapping
    default = m["default_control"]
    return DerProgram(
        id=m["id"],
        mrid=m["mrid"],
        fsa_id=m["fsa_id"],
        description=m["description"],
        primacy=m["primacy"],
        version=m["version"],
        default_control=DefaultDERControl.model_validate(default) if default else None,
    )


def _control(row: Row[Any]) -> DerControl:
    m = row._mapping
    return DerControl(
        id=m["id"],
        mrid=m["mrid"],
        program_id=m["program_id"],
        description=m["description"],
        creation_time=m["creation_time"],
        start=m["start"],
        duration_s=m["duration_s"],
        status=m["status"],
        status_time=m["status_time"],
        controls=DERControlBase.model_validate(m["controls"]),
        randomize_start_s=m["randomize_start_s"],
        randomize_duration_s=m["randomize_duration_s"],
    )


class DerProgramRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    # -- programs -----------------------------------------------------------------------

    def add(self, mrid: str, fsa_id: int, description: str, primacy: int) -> DerProgram:
        values = {
            "mrid": mrid,
            "fsa_id": fsa_id,
            "description": description,
            "primacy": primacy,
            "version": 0,
            "default_control": None,
        }
        with self._writer.begin() as conn:
            new_id = conn.execute(insert(_P).values(values).returning(_P.c.id)).scalar_one()
            row = conn.execute(select(_P).where(_P.c.id == new_id)).one()
        return _program(row)

    def get(self, program_id: int) -> DerProgram | None:
        with self._engine.begin() as conn:
            row = conn.execute(select(_P).where(_P.c.id == program_id)).first()
        return _program(row) if row is not None else None

    def by_description(self, fsa_id: int, description: str) -> DerProgram | None:
        """The program of ``fsa_id`` described ``description`` (the first one, by id)."""
        stmt = (
            select(_P)
            .where(_P.c.fsa_id == fsa_id, _P.c.description == description)
            .order_by(_P.c.id)
        )
        with self._engine.begin() as conn:
            row = conn.execute(stmt).first()
        return _program(row) if row is not None else None

    def of_fsas(self, fsa_ids: Sequence[int]) -> list[DerProgram]:
        """Programs of the FSAs, by primacy then id (the list order of clause 10.10.3)."""
        with self._engine.begin() as conn:
            rows = conn.execute(
                select(_P).where(_P.c.fsa_id.in_(fsa_ids)).order_by(_P.c.primacy, _P.c.id)
            ).all()
        return [_program(r) for r in rows]

    def visible_to(self, lfdi: str, aggregator: bool) -> list[DerProgram]:
        """Programs in any FSA handed to an EndDevice ``lfdi`` may see (its own; for an
        aggregator also those mapped to it), by primacy then id."""
        ed = cast(Table, SepEndDeviceRow.__table__)
        mine = (
            or_(ed.c.lfdi == lfdi, ed.c.aggregator_lfdi == lfdi)
            if aggregator
            else (ed.c.lfdi == lfdi)
        )
        fsas = (
            select(SepEndDeviceFsaRow.fsa_id)
            .join(ed, ed.c.id == SepEndDeviceFsaRow.end_device_id)
            .where(mine)
        )
        with self._engine.begin() as conn:
            rows = conn.execute(
                select(_P).where(_P.c.fsa_id.in_(fsas)).order_by(_P.c.primacy, _P.c.id)
            ).all()
        return [_program(r) for r in rows]

    def set_default(self, program_id: int, default: DefaultDERControl) -> None:
        data = default.model_dump(mode="json", exclude={"href"})
        with self._writer.begin() as conn:
            conn.execute(
                update(_P)
                .where(_P.c.id == program_id)
                .values(default_control=data, version=_P.c.version + 1)
            )

    # -- controls -----------------------------------------------------------------------

    def add_control(self, control: DerControl, supersede: Sequence[int] = ()) -> DerControl:
        """Insert ``control`` and, in the same transaction, mark the controls ``supersede``
        Superseded (as of its creation time)."""
        values = {
            "mrid": control.mrid,
            "program_id": control.program_id,
            "description": control.description,
            "creation_time": control.creation_time,
            "start": control.start,
            "duration_s": control.duration_s,
            "randomize_start_s": control.randomize_start_s,
            "randomize_duration_s": control.randomize_duration_s,
            "status": control.status,
            "status_time": control.status_time,
            "controls": control.controls.model_dump(mode="json", exclude_none=True),
        }
        with self._writer.begin() as conn:
            if supersede:
                conn.execute(
                    update(_C)
                    .where(_C.c.id.in_(supersede))
                    .values(status=SUPERSEDED, status_time=control.creation_time)
                )
            new_id = conn.execute(insert(_C).values(values).returning(_C.c.id)).scalar_one()
            row = conn.execute(select(_C).where(_C.c.id == new_id)).one()
        return _control(row)

    def controls_of(self, program_id: int) -> list[DerControl]:
        """Every control of the program, by start then creation (clause 12.1.2 order)."""
        with self._engine.begin() as conn:
            rows = conn.execute(
                select(_C)
                .where(_C.c.program_id == program_id)
                .order_by(_C.c.start, _C.c.creation_time.desc(), _C.c.id)
            ).all()
        return [_control(r) for r in rows]

    def control_by_mrid(self, mrid: str) -> DerControl | None:
        with self._engine.begin() as conn:
            row = conn.execute(select(_C).where(_C.c.mrid == mrid)).first()
        return _control(row) if row is not None else None

    def set_control_status(self, control_id: int, status: int, at: datetime) -> None:
        with self._writer.begin() as conn:
            conn.execute(
                update(_C).where(_C.c.id == control_id).values(status=status, status_time=at)
            )

    # -- curves -------------------------------------------------------------------------

    def add_curve(self, program_id: int, curve: DERCurve) -> DerCurveRecord:
        data = curve.model_dump(mode="json", exclude={"href"}, exclude_none=True)
        with self._writer.begin() as conn:
            new_id = conn.execute(
                insert(SepDerCurveRow)
                .values(mrid=curve.mrid, program_id=program_id, curve=data)
                .returning(SepDerCurveRow.id)
            ).scalar_one()
        return DerCurveRecord(id=new_id, mrid=curve.mrid, program_id=program_id, curve=curve)

    def curves_of(self, program_id: int) -> list[DerCurveRecord]:
        with self._engine.begin() as conn:
            rows = conn.execute(
                select(SepDerCurveRow)
                .where(SepDerCurveRow.program_id == program_id)
                .order_by(SepDerCurveRow.id)
            ).all()
        return [
            DerCurveRecord(
                id=r.id,
                mrid=r.mrid,
                program_id=program_id,
                curve=DERCurve.model_validate(r.curve),
            )
            for r in rows
        ]
