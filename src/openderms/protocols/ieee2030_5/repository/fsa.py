"""FunctionSetAssignments and which EndDevices they are handed to."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Row, delete, insert, select

from openderms.protocols.ieee2030_5.domain import Fsa
from openderms.store.engine import writer
from openderms.store.tables_2030_5 import SepEndDeviceFsaRow, SepFsaRow


def _fsa(row: Row[Any]) -> Fsa:
    return Fsa(id=row.id, mrid=row.mrid, description=row.description, version=row.version)


class FsaRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    def add(self, mrid: str, description: str) -> Fsa:
        with self._writer.begin() as conn:
            new_id = conn.execute(
                insert(SepFsaRow)
                .values(mrid=mrid, description=description, version=0)
                .returning(SepFsaRow.id)
            ).scalar_one()
        return Fsa(id=new_id, mrid=mrid, description=description, version=0)

    def get(self, fsa_id: int) -> Fsa | None:
        with self._engine.begin() as conn:
            row = conn.execute(select(SepFsaRow).where(SepFsaRow.id == fsa_id)).first()
        return _fsa(row) if row is not None else None

    def by_description(self, description: str) -> Fsa | None:
        with self._engine.begin() as conn:
            row = conn.execute(
                select(SepFsaRow).where(SepFsaRow.description == description)
            ).first()
        return _fsa(row) if row is not None else None

    def assign(self, end_device_id: int, fsa_id: int) -> None:
        """Hand ``fsa_id`` to ``end_device_id`` (nothing when it already is)."""
        with self._writer.begin() as conn:
            found = conn.scalar(
                select(SepEndDeviceFsaRow.fsa_id).where(
                    SepEndDeviceFsaRow.end_device_id == end_device_id,
                    SepEndDeviceFsaRow.fsa_id == fsa_id,
                )
            )
            if found is None:
                conn.execute(
                    insert(SepEndDeviceFsaRow).values(end_device_id=end_device_id, fsa_id=fsa_id)
                )

    def unassign(self, end_device_id: int, fsa_id: int) -> None:
        with self._writer.begin() as conn:
            conn.execute(
                delete(SepEndDeviceFsaRow).where(
                    SepEndDeviceFsaRow.end_device_id == end_device_id,
                    SepEndDeviceFsaRow.fsa_id == fsa_id,
                )
            )

    def for_end_device(self, end_device_id: int) -> list[Fsa]:
        """The FSAs handed to an EndDevice, in id order."""
        stmt = (
            select(SepFsaRow)
            .join(SepEndDeviceFsaRow, SepEndDeviceFsaRow.fsa_id == SepFsaRow.id)
            .where(SepEndDeviceFsaRow.end_device_id == end_device_id)
            .order_by(SepFsaRow.id)
        )
        with self._engine.begin() as conn:
            return [_fsa(r) for r in conn.execute(stmt)]
