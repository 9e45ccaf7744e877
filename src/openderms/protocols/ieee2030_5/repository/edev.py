"""EndDevices, their Registration and the clients (certificates) the server knows."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, Row, Table, func, insert, or_, select, update

from openderms.protocols.ieee2030_5.domain import EndDevice
from openderms.protocols.ieee2030_5.security.identity import ClientKind
from openderms.store.engine import writer
from openderms.store.tables_2030_5 import SepClientRow, SepEndDeviceRow

_ED = cast(Table, SepEndDeviceRow.__table__)


def _end_device(row: Row[Any] | Mapping[str, Any]) -> EndDevice:
    m = row._mapping if isinstance(row, Row) else row
    return EndDevice(
        id=m["id"],
        lfdi=m["lfdi"],
        sfdi=m["sfdi"],
        aggregator_lfdi=m["aggregator_lfdi"],
        device_category=m["device_category"],
        enabled=m["enabled"],
        post_rate_s=m["post_rate_s"],
        pin=m["pin"],
        registered_at=m["registered_at"],
        changed_time=m["changed_time"],
        der_id=m["der_id"],
        connection_point_id=m.get("connection_point_id"),
    )


class EndDeviceRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    # -- clients ------------------------------------------------------------------------

    def client_access(self, lfdi: str) -> tuple[ClientKind | None, bool]:
        """The client's kind (None: not listed) and whether its access is granted (an
        unlisted certificate of the trusted CA is)."""
        with self._engine.begin() as conn:
            row = conn.execute(
                select(SepClientRow.kind, SepClientRow.access_granted).where(
                    SepClientRow.lfdi == lfdi
                )
            ).first()
        if row is None:
            return None, True
        return cast(ClientKind, row.kind), bool(row.access_granted)

    def set_access(self, lfdi: str, sfdi: int, granted: bool, now: datetime) -> None:
        """Grant or revoke the certificate's access (listing it as a device when unknown)."""
        with self._writer.begin() as conn:
            done = conn.execute(
                update(SepClientRow).where(SepClientRow.lfdi == lfdi).values(access_granted=granted)
            )
            if done.rowcount == 0:
                conn.execute(
                    insert(SepClientRow).values(
                        lfdi=lfdi,
                        sfdi=sfdi,
                        kind="device",
                        name="",
                        created_at=now,
                        access_granted=granted,
                    )
                )

    def put_client(self, lfdi: str, sfdi: int, kind: ClientKind, name: str, now: datetime) -> None:
        """Add the client, or change its kind and name."""
        with self._writer.begin() as conn:
            done = conn.execute(
                update(SepClientRow)
                .where(SepClientRow.lfdi == lfdi)
                .values(kind=kind, name=name, sfdi=sfdi)
            )
            if done.rowcount == 0:
                conn.execute(
                    insert(SepClientRow).values(
                        lfdi=lfdi, sfdi=sfdi, kind=kind, name=name, created_at=now
                    )
                )

    # -- end devices --------------------------------------------------------------------

    def get(self, end_device_id: int) -> EndDevice | None:
        with self._engine.begin() as conn:
            row = conn.execute(select(_ED).where(_ED.c.id == end_device_id)).first()
        return _end_device(row) if row is not None else None

    def by_lfdi(self, lfdi: str) -> EndDevice | None:
        with self._engine.begin() as conn:
            row = conn.execute(select(_ED).where(_ED.c.lfdi == lfdi)).first()
        return _end_device(row) if row is not None else None

    def page_for(
        self, lfdi: str, aggregator: bool, changed_since: datetime | None, start: int, limit: int
    ) -> tuple[list[EndDevice], int]:
        """The EndDevices ``lfdi`` may see (its own; an aggregator's also those mapped to it)
        in id order: one page and the count of all of them."""
        where = [_ED.c.lfdi == lfdi]
        if aggregator:
            where = [or_(_ED.c.lfdi == lfdi, _ED.c.aggregator_lfdi == lfdi)]
        if changed_since is not None:
            where.append(_ED.c.changed_time >= changed_since)
        with self._engine.begin() as conn:
            total = conn.scalar(select(func.count()).select_from(_ED).where(*where)) or 0
            rows = conn.execute(
                select(_ED).where(*where).order_by(_ED.c.id).offset(start).limit(limit)
            ).all()
        return [_end_device(r) for r in rows], total

    def add(
        self,
        lfdi: str,
        sfdi: int,
        *,
        aggregator_lfdi: str | None,
        device_category: str | None,
        now: datetime,
        pin: int | None = None,
        der_id: str | None = None,
    ) -> EndDevice:
        values = {
            "lfdi": lfdi,
            "sfdi": sfdi,
            "aggregator_lfdi": aggregator_lfdi,
            "device_category": device_category,
            "enabled": True,
            "post_rate_s": None,
            "pin": pin,
            "registered_at": now if pin is not None else None,
            "der_id": der_id,
            "changed_time": now,
        }
        with self._writer.begin() as conn:
            new_id = conn.execute(insert(_ED).values(values).returning(_ED.c.id)).scalar_one()
        return _end_device({"id": new_id, **values})

    def update(self, end_device_id: int, **values: Any) -> EndDevice | None:
        """Change the given columns (``changed_time`` among them) of one EndDevice."""
        with self._writer.begin() as conn:
            conn.execute(update(_ED).where(_ED.c.id == end_device_id).values(values))
            row = conn.execute(select(_ED).where(_ED.c.id == end_device_id)).first()
        return _end_device(row) if row is not None else None
