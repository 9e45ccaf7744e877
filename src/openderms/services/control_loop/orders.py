"""Planned switching orders: one switch set open or closed from ``start`` until ``end``.

An order (``SwitchingOrder``) is checked against the network (``check_order``: every error
names the order, the field, the value and what was expected; an unknown switch is named). The
``SwitchingSchedule`` keeps orders by id: the same id again replaces the order, and an order
whose window is already over (``end <= now``) or empty cancels it. ``due(now, lead_s, states)``
says which switch states change now:

- an order is *applied* from ``start - lead_s`` (pre-emptively: the loop re-derives the
  topology and re-dispatches before the switch operates, so DER already follow the controls
  the switched network needs when it does; an order received after that is applied at once);
- it is *reverted* at ``end`` (the switch returns to the state it had when the order was
  applied; ``end`` None: a permanent change, never reverted), or at once when cancelled or
  replaced by an order for another switch.

A SCADA report (``switch_states``) always wins at the time it arrives: the schedule only acts
on an order's transitions, never re-imposes a state. Times are timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from openderms.errors import ValidationError, ValidationIssue

_KIND = "switching_order"


@dataclass(frozen=True, slots=True)
class SwitchingOrder:
    """Set ``switch_id`` closed (``closed``) or open from ``start`` until ``end`` (None:
    for good)."""

    order_id: str
    switch_id: str
    closed: bool
    start: datetime
    end: datetime | None = None

    def active(self, now: datetime, lead_s: float = 0.0) -> bool:
        """Inside its window (opened ``lead_s`` early)."""
        begun = now >= self.start - timedelta(seconds=lead_s)
        return begun and (self.end is None or now < self.end)

    def over(self, now: datetime) -> bool:
        return self.end is not None and (self.end <= now or self.end <= self.start)

    def describe(self) -> str:
        until = self.end.isoformat() if self.end is not None else "for good"
        state = "closed" if self.closed else "open"
        return f"{self.switch_id} {state} from {self.start.isoformat()} until {until}"


def _aware(value: object) -> bool:
    return isinstance(value, datetime) and value.utcoffset() is not None


def check_order(
    order_id: object,
    switch_id: object,
    closed: object,
    start: object,
    end: object,
    *,
    switch_ids: Collection[str],
) -> SwitchingOrder:
    """A ``SwitchingOrder`` from its fields, or ``ValidationError`` naming every bad one."""
    oid = order_id if isinstance(order_id, str) and order_id.strip() else repr(order_id)
    issues: list[ValidationIssue] = []

    def bad(field: str, value: object, expected: str) -> None:
        issues.append(ValidationIssue(_KIND, oid, field, value, expected))

    if not isinstance(order_id, str) or not order_id.strip():
        bad("order_id", order_id, "a non-empty string")
    if not isinstance(switch_id, str) or switch_id not in switch_ids:
        bad("switch_id", switch_id, "the id of a switch in the network model")
    if not isinstance(closed, bool):
        bad("closed", closed, "true (closed) or false (open)")
    if not _aware(start):
        bad("start", start, "a timezone-aware UTC time")
    if end is not None and not _aware(end):
        bad("end", end, "a timezone-aware UTC time or null")
    elif (
        isinstance(end, datetime) and isinstance(start, datetime) and _aware(start) and end < start
    ):
        bad("end", end.isoformat(), f"at or after start {start.isoformat()}")
    if issues:
        raise ValidationError(issues)
    assert isinstance(start, datetime)
    assert end is None or isinstance(end, datetime)
    return SwitchingOrder(str(order_id), str(switch_id), bool(closed), start, end)


def _time(order_id: object, field: str, raw: object) -> object:
    if raw is None or isinstance(raw, datetime):
        return raw
    if not isinstance(raw, str):
        return raw
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        issue = ValidationIssue(_KIND, str(order_id), field, raw, "an ISO 8601 UTC time")
        raise ValidationError([issue]) from None


def order_from_payload(payload: Mapping[str, Any], switch_ids: Collection[str]) -> SwitchingOrder:
    """A ``switching_orders.<substation>`` message body: ``{"order_id": str, "switch_id": str,
    "closed": bool, "start": ISO 8601 UTC, "end": ISO 8601 UTC or null}``."""
    oid = payload.get("order_id")
    missing = [
        ValidationIssue(_KIND, str(oid), k, None, "present")
        for k in ("order_id", "switch_id", "closed", "start")
        if k not in payload
    ]
    if missing:
        raise ValidationError(missing)
    start = _time(oid, "start", payload["start"])
    end = _time(oid, "end", payload.get("end"))
    return check_order(
        oid, payload["switch_id"], payload["closed"], start, end, switch_ids=switch_ids
    )


def order_payload(order: SwitchingOrder) -> dict[str, Any]:
    """The message body of ``order`` (see ``order_from_payload``)."""
    return {
        "order_id": order.order_id,
        "switch_id": order.switch_id,
        "closed": order.closed,
        "start": order.start.isoformat(),
        "end": order.end.isoformat() if order.end is not None else None,
    }


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """What the schedule did with one order: ``applied`` or ``reverted``."""

    order: SwitchingOrder
    action: str
    switch_id: str
    closed: bool

    @property
    def key(self) -> str:
        return f"order:{self.order.order_id}"

    @property
    def why(self) -> str:
        back = f"; {self.switch_id} back to {'closed' if self.closed else 'open'}"
        return self.order.describe() + (back if self.action == "reverted" else "")


class SwitchingSchedule:
    """Orders by id and the ones applied (see the module docstring)."""

    def __init__(self) -> None:
        self.orders: dict[str, SwitchingOrder] = {}
        self.applied: dict[str, tuple[SwitchingOrder, bool]] = {}  # id -> (order, prior state)

    def put(self, order: SwitchingOrder) -> SwitchingOrder | None:
        """Add ``order``; returns the order of the same id it replaces, if any."""
        old = self.orders.get(order.order_id)
        self.orders[order.order_id] = order
        return old

    def cancel(self, order_id: str) -> SwitchingOrder | None:
        """Forget the order (reverted at the next ``due`` if applied); the order, if any."""
        return self.orders.pop(order_id, None)

    def due(
        self, now: datetime, lead_s: float, states: Mapping[str, bool]
    ) -> tuple[dict[str, bool], list[OrderEvent]]:
        """The switch states to set now (``{switch_id: closed}``) and what was done."""
        changes: dict[str, bool] = {}
        events: list[OrderEvent] = []
        for oid, (was, prior) in list(self.applied.items()):
            order = self.orders.get(oid)
            keep = order is not None and order.active(now, lead_s) and not order.over(now)
            if keep and order is not None and order.switch_id == was.switch_id:
                if order.closed != was.closed:  # replaced with the other state
                    changes[order.switch_id] = order.closed
                    events.append(OrderEvent(order, "applied", order.switch_id, order.closed))
                self.applied[oid] = (order, prior)
                continue
            del self.applied[oid]
            held = any(o.switch_id == was.switch_id for o, _ in self.applied.values())
            if not held:
                changes[was.switch_id] = prior
                events.append(OrderEvent(was, "reverted", was.switch_id, prior))
        for oid, order in sorted(self.orders.items(), key=lambda kv: kv[1].start):
            if order.over(now):
                if oid not in self.applied:
                    del self.orders[oid]
                continue
            if oid in self.applied or not order.active(now, lead_s):
                continue
            prior = changes.get(order.switch_id, states.get(order.switch_id, order.closed))
            self.applied[oid] = (order, prior)
            changes[order.switch_id] = order.closed
            events.append(OrderEvent(order, "applied", order.switch_id, order.closed))
        return changes, events
