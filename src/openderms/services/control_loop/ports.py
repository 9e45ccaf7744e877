"""The control loop's ports: delivering DER controls, hearing back about them, and the time.

- ``ControlDelivery``: send a control (start, expiry, priority) to one DER and get a
  ``DeliveryHandle``; cancel it; set a DER's default control (what it does with no control
  in force, and when it loses contact). ``send`` raises ``DeliveryError`` when the message
  could not be handed over (a transient communication loss): the queue retries it.
  Implemented in memory (``memory.InMemoryDelivery``) and for IEEE 2030.5
  (``ieee2030_5.Ieee2030_5Delivery``); the DNP3 adapter will add another.
- ``ResponseSource``: what DER said about their controls (received, started, completed,
  not delivered), drained since the last call (2030.5 Response sets, DNP3 events).
- ``Clock``: ``now()`` as a timezone-aware UTC datetime (``SystemClock``, ``FakeClock``).

Signs (DESIGN.md): every power in generator convention, positive = export to the grid;
``p_max_kw`` caps export, ``p_kw`` sets a target (negative = charging), ``q_kvar`` positive
exports vars (raises voltage), negative absorbs.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from openderms.errors import OpenDermsError


class DeliveryError(OpenDermsError):
    """A control (or cancellation, or default) could not be handed to the DER now: the link
    to it or its aggregator is down. Transient: the queue tries again later."""


class ResponseStatus(enum.Enum):
    """What a DER reported about one control (IEEE 2030.5 Response status, clause 12.1.4)."""

    RECEIVED = "received"
    STARTED = "started"
    COMPLETED = "completed"
    NOT_DELIVERED = "not_delivered"  # refused, or the device says it cannot comply


@dataclass(frozen=True, slots=True)
class ControlRequest:
    """One control for one DER, as the queue hands it to an adapter.

    ``control_id`` is the queue's id (stable across retries); ``p_max_kw`` caps export,
    ``p_kw`` sets a target, ``q_kvar`` sets vars (generator convention: positive = export).
    ``rated_kw`` is the DER's export rating (adapters that speak in percent need it).
    ``start``/``expiry`` are UTC-aware; ``priority``: higher first.
    """

    control_id: str
    der_id: str
    start: datetime
    expiry: datetime
    priority: int = 0
    p_max_kw: float | None = None
    p_kw: float | None = None
    q_kvar: float | None = None
    rated_kw: float = 0.0
    s_kva: float = 0.0
    reason: str = ""
    constraint: str = ""

    @property
    def duration_s(self) -> float:
        return (self.expiry - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class DefaultControl:
    """A DER's default (2030.5 DefaultDERControl): its export cap ``p_max_kw`` (generator
    convention) while no control is in force, and after it loses contact."""

    der_id: str
    p_max_kw: float
    rated_kw: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class DeliveryHandle:
    """Where a sent control went: the queue's ``control_id`` and the adapter's reference
    (a 2030.5 DERControl mRID, a DNP3 point and sequence, an in-memory counter)."""

    control_id: str
    der_id: str
    ref: str


@dataclass(frozen=True, slots=True)
class ResponseEvent:
    """A DER's report about the control ``ref`` (a ``DeliveryHandle.ref``) at ``at`` (UTC)."""

    ref: str
    der_id: str
    status: ResponseStatus
    at: datetime


class ControlDelivery(Protocol):
    """Sends controls to DER (see the module docstring)."""

    def send(self, request: ControlRequest) -> DeliveryHandle:
        """Hand ``request`` to its DER; ``DeliveryError`` when the link is down now."""
        ...

    def cancel(self, handle: DeliveryHandle) -> None:
        """End a sent control early (the DER returns to its default)."""
        ...

    def set_default(self, default: DefaultControl) -> None:
        """Set what the DER does with no control in force (and when it loses contact)."""
        ...


class ResponseSource(Protocol):
    """Reports from DER about their controls, each returned once."""

    def drain(self) -> Sequence[ResponseEvent]:
        """Every report that arrived since the last call, oldest first."""
        ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The time, timezone-aware UTC."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock the caller moves (tests, simulations)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when
