"""The control queue: priority, start, expiry, bounded retries with back-off, supersession,
delivery tracking per control and delivery rates per DER, per aggregator and overall.

A control's life::

    queued -> sent -> received -> started -> completed
       |        |         \\--------------------> failed  (not followed: the DER ignores it)
       |        \\-> (no receipt in ack_timeout_s, or DeliveryError) -> retried with back-off
       |             ... max_attempts reached -> failed
       \\-> expired (its expiry passed before it was received)
    any open control -> superseded (a newer one for the same DER) | cancelled (revert)

Delivery rates count *deliverable* controls, those whose fate is known: received (on the
first attempt for ``first_try``, on any for ``eventual``), or failed / expired undelivered.
Controls superseded or cancelled before any receipt, and those failed because the DER was
unreachable (silent: handled by the failsafe), are left out.
"""

from __future__ import annotations

import enum
import heapq
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from openderms.services.control_loop.ports import (
    ControlDelivery,
    ControlRequest,
    DeliveryError,
    DeliveryHandle,
    ResponseEvent,
    ResponseStatus,
)

logger = logging.getLogger(__name__)


class ControlStatus(enum.Enum):
    QUEUED = "queued"
    SENT = "sent"
    RECEIVED = "received"
    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    CANCELLED = "cancelled"


OPEN = frozenset({ControlStatus.QUEUED, ControlStatus.SENT, ControlStatus.RECEIVED,
                  ControlStatus.STARTED})  # fmt: skip


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``max_attempts`` sends at most; the n-th retry waits ``backoff_s * factor**(n-1)``
    (capped at ``backoff_max_s``); a send not reported received within ``ack_timeout_s`` is
    tried again."""

    max_attempts: int = 5
    backoff_s: float = 2.0
    factor: float = 2.0
    backoff_max_s: float = 60.0
    ack_timeout_s: float = 30.0

    def wait_s(self, attempts: int) -> float:
        return min(self.backoff_s * self.factor ** max(attempts - 1, 0), self.backoff_max_s)


@dataclass(slots=True)
class QueuedControl:
    """One control and its delivery record (times UTC-aware)."""

    request: ControlRequest
    aggregator_id: str
    created: datetime
    status: ControlStatus = ControlStatus.QUEUED
    attempts: int = 0
    next_try: datetime | None = None
    handle: DeliveryHandle | None = None
    sent_at: datetime | None = None
    received_at: datetime | None = None
    received_attempt: int = 0
    note: str = ""
    deliverable: bool = True
    history: list[tuple[datetime, ControlStatus, str]] = field(default_factory=list)

    @property
    def control_id(self) -> str:
        return self.request.control_id

    @property
    def der_id(self) -> str:
        return self.request.der_id

    def move(self, now: datetime, status: ControlStatus, note: str = "") -> None:
        self.status = status
        if note:
            self.note = note
        self.history.append((now, status, note))


@dataclass(frozen=True, slots=True)
class DeliveryRates:
    """Counts and rates of deliverable controls (see the module docstring)."""

    deliverable: int
    first_try: int
    eventual: int

    @property
    def first_try_rate(self) -> float:
        return self.first_try / self.deliverable if self.deliverable else 1.0

    @property
    def eventual_rate(self) -> float:
        return self.eventual / self.deliverable if self.deliverable else 1.0


class ControlQueue:
    """Controls waiting, in flight and done, delivered through ``delivery``."""

    def __init__(self, delivery: ControlDelivery, policy: RetryPolicy | None = None) -> None:
        self.delivery = delivery
        self.policy = policy or RetryPolicy()
        self.controls: dict[str, QueuedControl] = {}
        self._open_by_der: dict[str, str] = {}
        self._by_ref: dict[str, str] = {}
        self._count = 0
        self.sends = 0

    def new_id(self) -> str:
        self._count += 1
        return f"ctl-{self._count}"

    def open_control(self, der_id: str) -> QueuedControl | None:
        cid = self._open_by_der.get(der_id)
        return None if cid is None else self.controls[cid]

    def open_controls(self) -> list[QueuedControl]:
        return [self.controls[c] for c in self._open_by_der.values()]

    def submit(self, request: ControlRequest, aggregator_id: str, now: datetime) -> QueuedControl:
        """Queue ``request``; an open control for the same DER is superseded by it."""
        old = self.open_control(request.der_id)
        if old is not None:
            old.move(now, ControlStatus.SUPERSEDED, f"by {request.control_id}")
            old.deliverable = old.received_at is not None
        entry = QueuedControl(request, aggregator_id, now, next_try=now)
        entry.history.append((now, ControlStatus.QUEUED, ""))
        self.controls[request.control_id] = entry
        self._open_by_der[request.der_id] = request.control_id
        return entry

    def cancel(self, der_id: str, now: datetime, why: str) -> QueuedControl | None:
        """End the open control of ``der_id`` (revert); the DER returns to its default."""
        entry = self.open_control(der_id)
        if entry is None:
            return None
        if entry.handle is not None:
            try:
                self.delivery.cancel(entry.handle)
            except DeliveryError as exc:  # it still ends at its expiry
                logger.info("cancel of %s not delivered: %s", entry.control_id, exc)
        entry.deliverable = entry.received_at is not None
        entry.move(now, ControlStatus.CANCELLED, why)
        self._close(entry)
        return entry

    def fail_unreachable(self, der_id: str, now: datetime) -> None:
        """The DER went silent: its open control is left to expire at the DER, if it got it."""
        entry = self.open_control(der_id)
        if entry is not None and entry.received_at is None:
            entry.deliverable = False
            entry.move(now, ControlStatus.FAILED, "DER unreachable (silent)")
            self._close(entry)

    def fail_not_followed(self, der_id: str, now: datetime) -> None:
        entry = self.open_control(der_id)
        if entry is not None:
            entry.move(now, ControlStatus.FAILED, "received but not followed")
            self._close(entry)

    def on_responses(self, events: Iterable[ResponseEvent], now: datetime) -> None:
        order = {ResponseStatus.RECEIVED: 1, ResponseStatus.STARTED: 2, ResponseStatus.COMPLETED: 3}
        for ev in events:
            cid = self._by_ref.get(ev.ref)
            entry = self.controls.get(cid) if cid else None
            if entry is None:
                continue
            if ev.status is ResponseStatus.NOT_DELIVERED:
                if entry.status in OPEN:
                    self._retry(entry, now, "DER reported not delivered")
                continue
            if entry.received_at is None:
                entry.received_at = ev.at
                entry.received_attempt = entry.attempts
                entry.deliverable = True  # it did arrive, even if superseded meanwhile
            if entry.status not in OPEN:
                continue  # superseded, cancelled or done: its receipt is noted above
            new = {1: ControlStatus.RECEIVED, 2: ControlStatus.STARTED, 3: ControlStatus.COMPLETED}
            rank = order[ev.status]
            current = {ControlStatus.RECEIVED: 1, ControlStatus.STARTED: 2}.get(entry.status, 0)
            if rank > current:
                entry.move(ev.at, new[rank])
                if rank == 3:
                    self._close(entry)

    def deliver(self, now: datetime) -> int:
        """Send what is due (priority first), retry what was not received, expire the late."""
        due: list[tuple[int, float, str]] = []
        for entry in self.open_controls():
            req = entry.request
            if req.expiry <= now:
                done = entry.received_at is not None
                entry.move(now, ControlStatus.COMPLETED if done else ControlStatus.EXPIRED)
                self._close(entry)
                continue
            if (
                entry.status is ControlStatus.SENT
                and entry.sent_at is not None
                and (now - entry.sent_at >= timedelta(seconds=self.policy.ack_timeout_s))
            ):
                self._retry(entry, now, "no receipt")
            if (
                entry.status is ControlStatus.QUEUED
                and entry.next_try is not None
                and (entry.next_try <= now)
            ):
                heapq.heappush(due, (-req.priority, entry.created.timestamp(), entry.control_id))
        sent = 0
        while due:
            entry = self.controls[heapq.heappop(due)[2]]
            entry.attempts += 1
            self.sends += 1
            try:
                handle = self.delivery.send(entry.request)
            except DeliveryError as exc:
                self._retry(entry, now, str(exc), sent=False)
                continue
            entry.handle = handle
            self._by_ref[handle.ref] = entry.control_id
            entry.sent_at = now
            entry.move(now, ControlStatus.SENT)
            sent += 1
        return sent

    def rates(self, by: str = "all") -> dict[str, DeliveryRates]:
        """Delivery rates by ``"all"``, ``"der"`` or ``"aggregator"``."""
        counts: dict[str, list[int]] = {}
        for e in self.controls.values():
            decided = e.received_at is not None or e.status in (
                ControlStatus.FAILED, ControlStatus.EXPIRED,
            )  # fmt: skip
            if not (e.deliverable and decided):
                continue
            key = "all" if by == "all" else e.der_id if by == "der" else e.aggregator_id
            c = counts.setdefault(key, [0, 0, 0])
            c[0] += 1
            if e.received_at is not None:
                c[2] += 1
                c[1] += e.received_attempt == 1
        return {k: DeliveryRates(*v) for k, v in counts.items()}

    def _retry(self, entry: QueuedControl, now: datetime, why: str, *, sent: bool = True) -> None:
        if entry.attempts >= self.policy.max_attempts:
            entry.move(now, ControlStatus.FAILED, f"{why} after {entry.attempts} attempts")
            self._close(entry)
            return
        if sent and entry.handle is not None:  # a late arrival of the old send is harmless
            self._by_ref.pop(entry.handle.ref, None)
            entry.handle = None
        entry.next_try = now + timedelta(seconds=self.policy.wait_s(entry.attempts))
        entry.move(now, ControlStatus.QUEUED, why)

    def _close(self, entry: QueuedControl) -> None:
        if self._open_by_der.get(entry.der_id) == entry.control_id:
            del self._open_by_der[entry.der_id]
