"""The DER documents clients report (DERCapability, DERSettings, DERStatus, DERAvailability)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Engine, Row, insert, select, update

from openderms.protocols.ieee2030_5.domain import DerInfo
from openderms.protocols.ieee2030_5.schema.der import (
    DERAvailability,
    DERCapability,
    DERSettings,
    DERStatus,
)
from openderms.store.engine import writer
from openderms.store.tables_2030_5 import SepDerRow

DerDocKind = Literal["capability", "settings", "status", "availability"]
DerDocument = DERCapability | DERSettings | DERStatus | DERAvailability


def _info(row: Row[Any]) -> DerInfo:
    return DerInfo(
        end_device_id=row.end_device_id,
        der_index=row.der_index,
        capability=DERCapability.model_validate(row.capability) if row.capability else None,
        settings=DERSettings.model_validate(row.settings) if row.settings else None,
        status=DERStatus.model_validate(row.status) if row.status else None,
        availability=(
            DERAvailability.model_validate(row.availability) if row.availability else None
        ),
    )


class DerRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    def get(self, end_device_id: int, der_index: int) -> DerInfo | None:
        with self._engine.begin() as conn:
            row = conn.execute(
                select(SepDerRow).where(
                    SepDerRow.end_device_id == end_device_id, SepDerRow.der_index == der_index
                )
            ).first()
        return _info(row) if row is not None else None

    def of_end_device(self, end_device_id: int) -> list[DerInfo]:
        with self._engine.begin() as conn:
            rows = conn.execute(
                select(SepDerRow)
                .where(SepDerRow.end_device_id == end_device_id)
                .order_by(SepDerRow.der_index)
            ).all()
        return [_info(r) for r in rows]

    def ensure(self, end_device_id: int, der_index: int, now: datetime) -> None:
        """Create the DER row when it does not exist yet."""
        with self._writer.begin() as conn:
            found = conn.scalar(
                select(SepDerRow.der_index).where(
                    SepDerRow.end_device_id == end_device_id, SepDerRow.der_index == der_index
                )
            )
            if found is None:
                conn.execute(
                    insert(SepDerRow).values(
                        end_device_id=end_device_id, der_index=der_index, updated_at=now
                    )
                )

    def put(
        self,
        end_device_id: int,
        der_index: int,
        kind: DerDocKind,
        document: DerDocument,
        now: datetime,
    ) -> None:
        """Replace one document of the DER (the row must exist)."""
        data: dict[str, Any] = document.model_dump(mode="json", exclude={"href"})
        with self._writer.begin() as conn:
            conn.execute(
                update(SepDerRow)
                .where(SepDerRow.end_device_id == end_device_id, SepDerRow.der_index == der_index)
                .values({kind: data, "updated_at": now})
            )
