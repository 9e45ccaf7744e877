"""Subscriptions (``sep_subscription``) and the Notifications still to deliver
(``sep_notification``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, Table, delete, exists, insert, select, update

from openderms.store.engine import writer
from openderms.store.tables_2030_5 import SepNotificationRow, SepSubscriptionRow

_S = cast(Table, SepSubscriptionRow.__table__)
_N = cast(Table, SepNotificationRow.__table__)


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    id: int
    end_device_id: int
    subscribed_resource: str
    encoding: int
    level: str
    limit: int
    notification_uri: str
    created_at: datetime
    #: set when the server cancelled it (kept until its last Notification is sent)
    cancelled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PendingNotification:
    id: int
    notification_uri: str
    body: str
    attempts: int


class PubSubRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    # -- subscriptions ------------------------------------------------------------------

    def add(self, values: Mapping[str, Any]) -> SubscriptionRecord:
        with self._writer.begin() as conn:
            new_id = conn.execute(insert(_S).values(values).returning(_S.c.id)).scalar_one()
            return SubscriptionRecord(
                **conn.execute(select(_S).where(_S.c.id == new_id)).one()._mapping
            )

    def of_device(self, end_device_id: int) -> list[SubscriptionRecord]:
        stmt = (
            select(_S)
            .where(_S.c.end_device_id == end_device_id, _S.c.cancelled_at.is_(None))
            .order_by(_S.c.id)
        )
        with self._engine.begin() as conn:
            return [SubscriptionRecord(**r._mapping) for r in conn.execute(stmt).all()]

    def of_resources(self, paths: Sequence[str]) -> list[SubscriptionRecord]:
        stmt = (
            select(_S)
            .where(_S.c.subscribed_resource.in_(paths), _S.c.cancelled_at.is_(None))
            .order_by(_S.c.id)
        )
        with self._engine.begin() as conn:
            return [SubscriptionRecord(**r._mapping) for r in conn.execute(stmt).all()]

    def subscribed_resources(self) -> list[str]:
        """Every path some subscription names (distinct)."""
        stmt = select(_S.c.subscribed_resource).where(_S.c.cancelled_at.is_(None)).distinct()
        with self._engine.begin() as conn:
            return list(conn.execute(stmt).scalars())

    def active(self) -> list[SubscriptionRecord]:
        """Every subscription the server has not cancelled."""
        stmt = select(_S).where(_S.c.cancelled_at.is_(None)).order_by(_S.c.id)
        with self._engine.begin() as conn:
            return [SubscriptionRecord(**r._mapping) for r in conn.execute(stmt).all()]

    def cancel(self, subscription_ids: Sequence[int], now: datetime) -> None:
        """Mark subscriptions cancelled by the server; their pending Notifications stay."""
        if subscription_ids:
            with self._writer.begin() as conn:
                conn.execute(
                    update(_S).where(_S.c.id.in_(subscription_ids)).values(cancelled_at=now)
                )

    def remove(self, subscription_id: int) -> None:
        with self._writer.begin() as conn:
            conn.execute(delete(_N).where(_N.c.subscription_id == subscription_id))
            conn.execute(delete(_S).where(_S.c.id == subscription_id))

    # -- notifications ------------------------------------------------------------------

    def enqueue(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            with self._writer.begin() as conn:
                conn.execute(insert(_N), list(rows))

    def due(self, now: datetime, limit: int = 100) -> list[PendingNotification]:
        stmt = (
            select(_N.c.id, _S.c.notification_uri, _N.c.body, _N.c.attempts)
            .join(_S, _S.c.id == _N.c.subscription_id)
            .where(_N.c.next_attempt_at <= now)
            .order_by(_N.c.next_attempt_at, _N.c.id)
            .limit(limit)
        )
        with self._engine.begin() as conn:
            return [PendingNotification(*r) for r in conn.execute(stmt).all()]

    def next_due(self) -> datetime | None:
        stmt = select(_N.c.next_attempt_at).order_by(_N.c.next_attempt_at).limit(1)
        with self._engine.begin() as conn:
            found: datetime | None = conn.execute(stmt).scalar()
        return found

    def delivered(self, notification_id: int) -> None:
        """Forget a Notification (sent, or given up); a cancelled subscription goes with its
        last one."""
        with self._writer.begin() as conn:
            conn.execute(delete(_N).where(_N.c.id == notification_id))
            pending = exists(select(_N.c.id).where(_N.c.subscription_id == _S.c.id))
            conn.execute(delete(_S).where(_S.c.cancelled_at.is_not(None), ~pending))

    def retry_at(self, notification_id: int, attempts: int, at: datetime) -> None:
        with self._writer.begin() as conn:
            conn.execute(
                update(_N)
                .where(_N.c.id == notification_id)
                .values(attempts=attempts, next_attempt_at=at)
            )
