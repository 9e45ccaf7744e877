"""``SqlDerRepository``: the registry's ``DerRepository`` port on SQLite or PostgreSQL.

Same contract as ``openderms.registry.memory.InMemoryDerRepository`` (the contract tests run
against all three):

- ``add_many`` is one transaction: every record and its audit trail, or nothing. Rows go in
  with ``COPY`` on PostgreSQL and as executemany batches on SQLite (``store.bulk``; never an
  ORM unit of work per row). A duplicate id or application id, in the batch or already
  stored, is a ``ConflictError`` naming it.
- ``save`` is a compare-and-set on ``version`` (``ConflictError`` when stale) and appends only
  the audit entries the database does not hold yet (the trail is append-only).
- ``query`` filters on indexed columns and pages in id order (code-point order on every backend).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Table,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from openderms.errors import ConflictError
from openderms.registry.domain import AuditEntry, DerRecord
from openderms.registry.ports import DerQuery
from openderms.store.bulk import chunks, insert_rows
from openderms.store.der_rows import audit_entry, audit_rows, der_record, der_row
from openderms.store.engine import writer
from openderms.store.tables import DerAuditRow, DerRow

DER = cast(Table, DerRow.__table__)
DER_AUDIT = cast(Table, DerAuditRow.__table__)


class SqlDerRepository:
    """DER records in the ``der`` and ``der_audit`` tables of ``engine``'s database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    # -- writes ---------------------------------------------------------------------------

    def add_many(self, records: Sequence[DerRecord]) -> None:
        """Insert new records atomically (``ConflictError`` naming the first duplicate)."""
        if not records:
            return
        _refuse_duplicates_within(records)
        rows = [der_row(r) for r in records]
        audits = [a for r in records for a in audit_rows(r)]
        try:
            with self._writer.begin() as conn:
                insert_rows(conn, DER, rows)
                insert_rows(conn, DER_AUDIT, audits)
        except IntegrityError as exc:
            conflict = self._conflict_for(records)
            if conflict is None:
                raise
            raise conflict from exc

    def save(self, record: DerRecord, expected_version: int) -> None:
        """Replace the record if it is stored at ``expected_version``; append its new audit."""
        row = der_row(record)
        del row["id"], row["created_at"]  # a record keeps its identity and creation time
        try:
            with self._writer.begin() as conn:
                result = conn.execute(
                    update(DerRow)
                    .where(DerRow.id == record.id, DerRow.version == expected_version)
                    .values(row)
                )
                if result.rowcount != 1:
                    found = conn.scalar(select(DerRow.version).where(DerRow.id == record.id))
                    raise ConflictError(
                        f"DER {record.id!r} is at version {found}, not {expected_version}"
                    )
                stored = (
                    conn.scalar(select(func.count()).where(DerAuditRow.der_id == record.id)) or 0
                )
                if len(record.audit) < stored:
                    raise ConflictError(
                        f"DER {record.id!r} has {stored} audit entries stored but the record "
                        f"carries {len(record.audit)}: the audit trail is append-only"
                    )
                new = audit_rows(record, after_seq=stored)
                if new:
                    conn.execute(insert(DerAuditRow), new)
        except IntegrityError as exc:
            app = record.registration.application_id
            lfdi = record.registration.device_lfdi
            with self._engine.begin() as conn:
                other = conn.scalar(
                    select(DerRow.id).where(DerRow.application_id == app, DerRow.id != record.id)
                )
                holder = conn.scalar(
                    select(DerRow.id).where(DerRow.device_lfdi == lfdi, DerRow.id != record.id)
                )
            if other is None and holder is not None:
                raise ConflictError(
                    f"device_lfdi {lfdi} is already registered to DER {holder!r}"
                ) from exc
            if other is None:
                raise
            raise ConflictError(
                f"application_id {app!r} is already registered to DER {other!r}"
            ) from exc

    # -- reads ----------------------------------------------------------------------------

    def get(self, der_id: str) -> DerRecord | None:
        with self._engine.begin() as conn:
            row = conn.execute(select(DerRow.__table__).where(DerRow.id == der_id)).first()
            if row is None:
                return None
            audit = _audits(conn, [der_id])
        return der_record(row._mapping, audit.get(der_id, ()))

    def query(self, q: DerQuery) -> tuple[list[DerRecord], int]:
        """One page (ordered by id) and the total matching ``q``."""
        where = _filters(q)
        with self._engine.begin() as conn:
            total = conn.scalar(select(func.count()).select_from(DerRow).where(*where)) or 0
            rows = conn.execute(
                select(DerRow.__table__)
                .where(*where)
                .order_by(DerRow.id)
                .offset(max(q.offset, 0))
                .limit(max(q.limit, 0))
            ).all()
            audit = _audits(conn, [r.id for r in rows])
        return [der_record(r._mapping, audit.get(r.id, ())) for r in rows], total

    def granted_export_kw_by_bus(self) -> Mapping[str, float]:
        """Export granted per bus, kW (approved with or without limit, provisioned, active,
        suspended; generator convention, positive = export)."""
        stmt = (
            select(DerRow.bus_id, func.sum(DerRow.granted_export_kw))
            .where(DerRow.granted_export_kw > 0, DerRow.bus_id.is_not(None))
            .group_by(DerRow.bus_id)
        )
        with self._engine.begin() as conn:
            return {str(bus): float(kw) for bus, kw in conn.execute(stmt)}

    def der_id_by_lfdi(self, lfdi: str) -> str | None:
        """The DER whose registration carries ``lfdi`` (upper case), if any."""
        with self._engine.begin() as conn:
            return conn.scalar(select(DerRow.id).where(DerRow.device_lfdi == lfdi))

    def count(self) -> int:
        """How many DER are stored."""
        with self._engine.begin() as conn:
            return conn.scalar(select(func.count()).select_from(DerRow)) or 0

    # -- helpers --------------------------------------------------------------------------

    def _conflict_for(self, records: Sequence[DerRecord]) -> ConflictError | None:
        """Name the first record of a refused batch whose id or application id is stored
        (None: no such record, the batch failed for another reason)."""
        ids: set[str] = set()
        apps: set[str] = set()
        lfdis: set[str] = set()
        with self._engine.begin() as conn:
            for chunk in chunks(records):
                chunk_lfdis = [r.registration.device_lfdi for r in chunk]
                lfdis.update(
                    conn.scalars(
                        select(DerRow.device_lfdi).where(
                            DerRow.device_lfdi.in_([x for x in chunk_lfdis if x is not None])
                        )
                    )
                )
                ids.update(
                    conn.scalars(select(DerRow.id).where(DerRow.id.in_([r.id for r in chunk])))
                )
                chunk_apps = [r.registration.application_id for r in chunk]
                apps.update(
                    conn.scalars(
                        select(DerRow.application_id).where(DerRow.application_id.in_(chunk_apps))
                    )
                )
        for r in records:
            if r.id in ids:
                return ConflictError(f"DER id {r.id!r} already exists")
            if r.registration.application_id in apps:
                return _app_conflict(r)
            if r.registration.device_lfdi in lfdis:
                return _lfdi_conflict(r)
        return None


def _app_conflict(r: DerRecord) -> ConflictError:
    app = r.registration.application_id
    return ConflictError(f"application_id {app!r} is already registered")


def _lfdi_conflict(r: DerRecord) -> ConflictError:
    return ConflictError(f"device_lfdi {r.registration.device_lfdi} is already registered")


def _refuse_duplicates_within(records: Sequence[DerRecord]) -> None:
    ids: set[str] = set()
    apps: set[str] = set()
    lfdis: set[str] = set()
    for r in records:
        lfdi = r.registration.device_lfdi
        if lfdi is not None and lfdi in lfdis:
            raise _lfdi_conflict(r)
        if lfdi is not None:
            lfdis.add(lfdi)
        if r.id in ids:
            raise ConflictError(f"DER id {r.id!r} already exists")
        if r.registration.application_id in apps:
            raise _app_conflict(r)
        ids.add(r.id)
        apps.add(r.registration.application_id)


def _filters(q: DerQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if q.installer_id is not None:
        where.append(DerRow.installer_id == q.installer_id)
    if q.aggregator_id is not None:
        where.append(DerRow.aggregator_id == q.aggregator_id)
    if q.status is not None:
        where.append(DerRow.status == q.status)
    if q.feeder_id is not None:
        where.append(DerRow.feeder_id == q.feeder_id)
    return where


def _audits(conn: Connection, der_ids: Sequence[str]) -> dict[str, list[AuditEntry]]:
    out: dict[str, list[AuditEntry]] = defaultdict(list)
    for chunk in chunks(der_ids):
        rows = conn.execute(
            select(DerAuditRow.__table__)
            .where(DerAuditRow.der_id.in_(chunk))
            .order_by(DerAuditRow.der_id, DerAuditRow.seq)
        )
        for row in rows:
            m = row._mapping
            out[m["der_id"]].append(audit_entry(m))
    return out
