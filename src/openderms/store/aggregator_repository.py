"""``SqlAggregatorRepository``: ``openderms.registry.aggregators.AggregatorRepository`` on
SQLite or PostgreSQL (the ``aggregator`` table); same contract as the in-memory one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from openderms.errors import ConflictError
from openderms.registry.aggregators import Aggregator
from openderms.store.engine import writer
from openderms.store.tables import AggregatorRow


def _aggregator(row: Any) -> Aggregator:
    return Aggregator(id=row.id, name=row.name, lfdi=row.lfdi, created_at=row.created_at)


class SqlAggregatorRepository:
    """Aggregators in the ``aggregator`` table of ``engine``'s database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    def add(self, aggregator: Aggregator) -> None:
        """Insert it (``ConflictError`` naming a taken id or LFDI; nothing stored then)."""
        try:
            with self._writer.begin() as conn:
                conn.execute(insert(AggregatorRow), [aggregator.model_dump()])
        except IntegrityError as exc:
            if self.get(aggregator.id) is not None:
                raise ConflictError(f"aggregator {aggregator.id!r} already exists") from exc
            if self.by_lfdi(aggregator.lfdi) is not None:
                raise ConflictError(f"LFDI {aggregator.lfdi} is already registered") from exc
            raise

    def get(self, aggregator_id: str) -> Aggregator | None:
        with self._engine.begin() as conn:
            row = conn.execute(
                select(AggregatorRow.__table__).where(AggregatorRow.id == aggregator_id)
            ).first()
        return None if row is None else _aggregator(row)

    def by_lfdi(self, lfdi: str) -> Aggregator | None:
        with self._engine.begin() as conn:
            row = conn.execute(
                select(AggregatorRow.__table__).where(AggregatorRow.lfdi == lfdi.upper())
            ).first()
        return None if row is None else _aggregator(row)

    def all(self) -> list[Aggregator]:
        """Every aggregator, ordered by id."""
        with self._engine.begin() as conn:
            rows = conn.execute(select(AggregatorRow.__table__).order_by(AggregatorRow.id))
            return [_aggregator(r) for r in rows]
