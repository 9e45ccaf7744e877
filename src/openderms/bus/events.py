"""``BusEventPublisher``: the registry's synchronous ``EventPublisher`` port on an async bus.

Subjects of the port are relative to a bus family, ``registry`` by default: the registry's
``der.screened`` goes out on ``registry.der.screened`` (services do not import the bus's
subject module; this adapter maps their event names to wire subjects).

The registry service is synchronous and may run in any thread (a worker thread of the web
server, the CLI, the event loop's own thread). ``publish`` never blocks and never waits for
the broker: it validates the subject, encodes the payload (so a bad payload fails in the
caller, and later changes to the caller's dict do not leak in), gives the event a message id,
appends it to a thread-safe deque and wakes the drain task with
``loop.call_soon_threadsafe``. One drain task on the bus's event loop publishes the events
one by one, in the order they were published; when a publish fails (broker down) it keeps the
event at the head of the queue and tries again with back-off, under the same message id, so
a publish that did reach the broker is stored once. ``flush()`` waits until the queue is
empty; ``close()`` drains it and stops the task. Events still queued when the process dies
are lost (the registry's own store is the record; events are notifications).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Mapping
from typing import Any

from openderms.bus import subjects
from openderms.bus.codec import encode_payload
from openderms.bus.port import BusError, MessageBus

logger = logging.getLogger(__name__)

_BACKOFF_S = (0.05, 0.2, 1.0, 5.0)


class BusEventPublisher:
    """Implements ``openderms.registry.ports.EventPublisher`` on a ``MessageBus``; create it
    with ``await BusEventPublisher.start(bus)`` from the loop that runs ``bus``."""

    def __init__(
        self,
        bus: MessageBus,
        loop: asyncio.AbstractEventLoop,
        family: subjects.Family = subjects.REGISTRY,
    ) -> None:
        self._bus = bus
        self._loop = loop
        self._prefix = subjects.stored_family(family.name + ".>", pattern=True) + "."
        self._queue: deque[tuple[str, bytes, str]] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def start(
        cls, bus: MessageBus, family: subjects.Family = subjects.REGISTRY
    ) -> BusEventPublisher:
        publisher = cls(bus, asyncio.get_running_loop(), family)
        publisher._task = asyncio.create_task(publisher._drain(), name="bus-event-publisher")
        return publisher

    @property
    def pending(self) -> int:
        """Events accepted but not yet stored by the bus."""
        return len(self._queue)

    def publish(self, subject: str, payload: Mapping[str, Any]) -> None:
        """Queue ``payload`` for ``<family>.<subject>``; returns at once, from any thread."""
        subject = self._prefix + subject
        subjects.stored_family(subject)
        data = encode_payload(subject, payload)
        if self._closing or self._loop.is_closed():
            raise BusError(f"event publisher closed: {subject!r} not published")
        self._queue.append((subject, data, uuid.uuid4().hex))
        self._loop.call_soon_threadsafe(self._wakeup)

    def _wakeup(self) -> None:
        self._idle.clear()
        self._wake.set()

    async def _drain(self) -> None:
        failures = 0
        while True:
            while self._queue:
                subject, data, msg_id = self._queue[0]
                try:
                    await self._bus.publish(subject, data, msg_id=msg_id)
                except BusError as exc:
                    delay_s = _BACKOFF_S[min(failures, len(_BACKOFF_S) - 1)]
                    failures += 1
                    logger.warning(
                        "event %s on %s not published (%s); %d queued, retry in %s s",
                        msg_id,
                        subject,
                        exc,
                        len(self._queue),
                        delay_s,
                    )
                    await asyncio.sleep(delay_s)
                    continue
                failures = 0
                self._queue.popleft()
            self._idle.set()
            if self._closing:
                return
            self._wake.clear()
            if not self._queue:
                await self._wake.wait()

    async def flush(self) -> None:
        """Wait until every event published so far is stored by the bus."""
        while self._queue or not self._idle.is_set():
            await self._idle.wait()
            await asyncio.sleep(0)

    async def close(self, timeout_s: float | None = None) -> None:
        """Publish what is queued, then stop; later ``publish`` calls raise ``BusError``.
        With ``timeout_s``, give up after that long and raise ``BusError`` saying how many
        events were not published."""
        self._closing = True
        self._wake.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
        except TimeoutError as exc:
            self._task.cancel()
            lost = len(self._queue)
            raise BusError(f"{lost} event(s) not published within {timeout_s} s") from exc
