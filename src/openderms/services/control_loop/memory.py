"""In-memory control delivery and responses, with the link's behaviour configurable.

``InMemoryDelivery`` implements ``ControlDelivery`` and ``ResponseSource`` and remembers
what every DER has applied, so a simulated fleet (``sim.SimulatedFleet``) can follow it.
``LinkBehaviour`` sets how the link and the devices behave:

- ``delay_s``: a sent control reaches its DER (and is reported received and started) after
  this long;
- ``loss_probability``: each send fails at once with ``DeliveryError`` (a transient
  communication loss; the queue retries);
- ``drop_probability``: a send is accepted but never arrives (partial delivery: no response);
- ``ignoring``: DER that report a control received but never act on it.

``set_offline`` makes DER unreachable (every send fails) until ``set_online``. A control is
in force at its DER from its arrival and start until its expiry or cancellation; the one
that arrived last supersedes older ones. Powers in generator convention (positive = export).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from openderms.services.control_loop.ports import (
    Clock,
    ControlRequest,
    DefaultControl,
    DeliveryError,
    DeliveryHandle,
    ResponseEvent,
    ResponseStatus,
)


@dataclass(frozen=True, slots=True)
class LinkBehaviour:
    """How the in-memory link and devices behave (see the module docstring)."""

    delay_s: float = 0.0
    loss_probability: float = 0.0
    drop_probability: float = 0.0
    ignoring: frozenset[str] = field(default_factory=frozenset)


@dataclass(slots=True)
class _Sent:
    request: ControlRequest
    ref: str
    arrives: datetime | None  # None: dropped on the way
    arrived: bool = False
    cancelled: bool = False
    completed: bool = False


class InMemoryDelivery:
    """Delivery and responses in one process (see the module docstring)."""

    def __init__(self, clock: Clock, behaviour: LinkBehaviour | None = None, seed: int = 0) -> None:
        self._clock = clock
        self.behaviour = behaviour or LinkBehaviour()
        self._rng = random.Random(seed)
        self._sent: dict[str, _Sent] = {}
        self._events: list[ResponseEvent] = []
        self._offline: set[str] = set()
        self._latest: dict[str, str] = {}
        self._waiting: list[str] = []  # sent, not arrived yet
        self._running: list[str] = []  # arrived, completion not reported yet
        self._advanced_to: datetime | None = None
        self._dirty = False
        self._count = 0
        self.defaults: dict[str, DefaultControl] = {}
        self.send_attempts = 0
        self.send_failures = 0

    # -- ControlDelivery ------------------------------------------------------------------
    def send(self, request: ControlRequest) -> DeliveryHandle:
        self.send_attempts += 1
        if request.der_id in self._offline or self._rng.random() < self.behaviour.loss_probability:
            self.send_failures += 1
            raise DeliveryError(f"no link to DER {request.der_id!r}")
        self._count += 1
        ref = f"mem-{self._count}"
        now = self._clock.now()
        dropped = self._rng.random() < self.behaviour.drop_probability
        arrives = None if dropped else now + timedelta(seconds=self.behaviour.delay_s)
        self._sent[ref] = _Sent(request, ref, arrives)
        self._waiting.append(ref)
        self._dirty = True
        return DeliveryHandle(request.control_id, request.der_id, ref)

    def cancel(self, handle: DeliveryHandle) -> None:
        if handle.der_id in self._offline:
            raise DeliveryError(f"no link to DER {handle.der_id!r}")
        sent = self._sent.get(handle.ref)
        if sent is not None:
            sent.cancelled = True
            self._dirty = True

    def set_default(self, default: DefaultControl) -> None:
        if default.der_id in self._offline:
            raise DeliveryError(f"no link to DER {default.der_id!r}")
        self.defaults[default.der_id] = default

    # -- ResponseSource -------------------------------------------------------------------
    def drain(self) -> Sequence[ResponseEvent]:
        self._advance(self._clock.now())
        out, self._events = self._events, []
        return out

    # -- the simulated link ---------------------------------------------------------------
    def set_offline(self, der_ids: Iterable[str]) -> None:
        self._offline.update(der_ids)
        self._dirty = True

    def set_online(self, der_ids: Iterable[str]) -> None:
        self._offline.difference_update(der_ids)
        self._dirty = True

    def is_offline(self, der_id: str) -> bool:
        return der_id in self._offline

    def in_force(self, der_id: str, now: datetime) -> ControlRequest | None:
        """The control the DER follows at ``now`` (None: none; ignoring DER follow none).
        The control that arrived last supersedes every earlier one."""
        self._advance(now)
        if der_id in self.behaviour.ignoring:
            return None
        latest = self._latest.get(der_id)
        if latest is None:
            return None
        s = self._sent[latest]
        r = s.request
        return r if not s.cancelled and r.start <= now < r.expiry else None

    def _advance(self, now: datetime) -> None:
        if now == self._advanced_to and not self._dirty:
            return
        self._advanced_to, self._dirty = now, False
        waiting = []
        for ref in self._waiting:
            s = self._sent[ref]
            der = s.request.der_id
            if s.arrives is None:
                continue  # dropped on the way
            if s.arrives > now or der in self._offline:
                waiting.append(ref)
                continue
            s.arrived = True
            self._latest[der] = s.ref
            self._running.append(ref)
            self._events.append(ResponseEvent(s.ref, der, ResponseStatus.RECEIVED, s.arrives))
            if der not in self.behaviour.ignoring:
                at = max(s.arrives, s.request.start)
                self._events.append(ResponseEvent(s.ref, der, ResponseStatus.STARTED, at))
        self._waiting = waiting
        running = []
        for ref in self._running:
            s = self._sent[ref]
            der = s.request.der_id
            if der in self.behaviour.ignoring:
                continue
            if (s.request.expiry <= now or s.cancelled) and der not in self._offline:
                s.completed = True
                at = min(now, s.request.expiry)
                self._events.append(ResponseEvent(s.ref, der, ResponseStatus.COMPLETED, at))
            else:
                running.append(ref)
        self._running = running
