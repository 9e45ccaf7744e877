"""``InProcessBus``: the embedded default, a small JetStream in one asyncio event loop.

Each stored family keeps its last ``max_msgs_per_family`` messages (and none older than the
family's ``max_age_s``) in a list indexed by sequence; consumers are positions in it. A
durable consumer's position, retries and dedupe window live as long as the bus object, so a
durable subscription that is stopped and started again catches up; nothing survives the
process (use JetStream for that). Every call must come from the loop that runs the bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from openderms.bus import subjects
from openderms.bus.codec import encode_payload
from openderms.bus.delivery import (
    DedupeWindow,
    Outcome,
    dead_letter_headers,
    dead_letter_id,
    handle_once,
    retry_delay_s,
)
from openderms.bus.port import (
    BusError,
    BusOptions,
    Deliver,
    Handler,
    Message,
    NoResponderError,
    PublishAck,
    Responder,
    check_headers,
    check_msg_id,
    check_name,
)
from openderms.errors import ConflictError, ValidationError, ValidationIssue

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Stream:
    """One family's retained messages; ``items[i].sequence == first_seq + i``."""

    family: subjects.Family
    max_msgs: int
    items: list[tuple[float, Message]] = field(default_factory=list)
    start: int = 0
    last_seq: int = 0
    recent_ids: OrderedDict[str, tuple[float, int]] = field(default_factory=OrderedDict)

    @property
    def first_seq(self) -> int:
        return self.last_seq - (len(self.items) - self.start) + 1

    def get(self, seq: int) -> Message | None:
        i = self.start + seq - self.first_seq
        return self.items[i][1] if self.start <= i < len(self.items) else None

    def append(self, message: Message, now_s: float) -> None:
        self.items.append((now_s, message))
        while len(self.items) - self.start > self.max_msgs or (
            now_s - self.items[self.start][0] > self.family.max_age_s
        ):
            self.start += 1
        if self.start > 1024 and self.start * 2 > len(self.items):
            del self.items[: self.start]
            self.start = 0

    def duplicate_of(self, msg_id: str, now_s: float, window_s: float) -> int | None:
        while self.recent_ids:
            oldest, (at_s, _) = next(iter(self.recent_ids.items()))
            if now_s - at_s <= window_s:
                break
            del self.recent_ids[oldest]
        seen = self.recent_ids.get(msg_id)
        return None if seen is None else seen[1]


@dataclass(slots=True)
class _Consumer:
    name: str
    pattern: str
    durable: bool
    next_seq: int
    dedupe: DedupeWindow
    retries: list[tuple[float, int, Message]] = field(default_factory=list)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    bound: bool = False


class _InProcessSubscription:
    def __init__(self, name: str, stop: Callable[[], Awaitable[None]]) -> None:
        self._name = name
        self._stop = stop

    @property
    def name(self) -> str:
        return self._name

    async def stop(self) -> None:
        await self._stop()


class InProcessBus:
    """The ``MessageBus`` of the embedded default (see ``openderms.bus.port`` for the
    semantics it shares with JetStream)."""

    def __init__(self, options: BusOptions | None = None) -> None:
        self._options = options or BusOptions()
        self._streams = {
            f.name: _Stream(f, self._options.max_msgs_per_family) for f in subjects.STORED_FAMILIES
        }
        self._consumers: dict[tuple[str, str], _Consumer] = {}
        self._tasks: dict[tuple[str, str], tuple[asyncio.Task[None], asyncio.Event]] = {}
        self._responders: dict[str, list[tuple[str, Responder]]] = {}
        self._rr = itertools.count()
        self._closed = False

    @property
    def options(self) -> BusOptions:
        return self._options

    def _check_open(self) -> None:
        if self._closed:
            raise BusError("the bus is closed")

    async def publish(
        self,
        subject: str,
        payload: bytes | Mapping[str, Any],
        *,
        msg_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> PublishAck:
        family = subjects.stored_family(subject)
        data = encode_payload(subject, payload)
        check_msg_id(subject, msg_id)
        user_headers = check_headers(subject, headers)
        self._check_open()
        return self._store(family, subject, data, msg_id or uuid.uuid4().hex, user_headers)

    def _store(
        self, family: str, subject: str, data: bytes, msg_id: str, headers: dict[str, str]
    ) -> PublishAck:
        stream = self._streams[family]
        now_s = time.monotonic()
        seen = stream.duplicate_of(msg_id, now_s, self._options.duplicate_window_s)
        if seen is not None:
            return PublishAck(subject, msg_id, seen, duplicate=True)
        seq = stream.last_seq + 1
        stream.last_seq = seq
        stream.recent_ids[msg_id] = (now_s, seq)
        stream.append(Message(subject, data, msg_id, MappingProxyType(headers), 1, seq), now_s)
        for (fam, _), consumer in self._consumers.items():
            if fam == family:
                consumer.wake.set()
        return PublishAck(subject, msg_id, seq)

    async def subscribe(
        self,
        subject_pattern: str,
        handler: Handler,
        *,
        durable: str | None = None,
        deliver: Deliver = "new",
    ) -> _InProcessSubscription:
        family = subjects.stored_family(subject_pattern, pattern=True)
        if deliver not in ("all", "new"):
            raise ValidationError(
                [ValidationIssue("subscription", subject_pattern, "deliver", deliver, "all|new")]
            )
        self._check_open()
        name = check_name("durable", durable) if durable else f"_eph_{uuid.uuid4().hex[:12]}"
        key = (family, name)
        consumer = self._consumers.get(key)
        if consumer is None:
            stream = self._streams[family]
            start = stream.first_seq if deliver == "all" else stream.last_seq + 1
            consumer = _Consumer(name, subject_pattern, durable is not None, start, self._dedupe())
            self._consumers[key] = consumer
        elif consumer.pattern != subject_pattern:
            raise ConflictError(
                f"durable consumer {name!r} of {family!r} filters {consumer.pattern!r}, "
                f"not {subject_pattern!r}: use another name or the same pattern"
            )
        elif consumer.bound:
            raise ConflictError(f"durable consumer {name!r} of {family!r} is already running")
        consumer.bound = True
        stopping = asyncio.Event()
        task = asyncio.create_task(self._run(family, consumer, handler, stopping), name=name)
        task.add_done_callback(_log_crash)
        self._tasks[key] = (task, stopping)
        return _InProcessSubscription(name, lambda: self._stop(key))

    def _dedupe(self) -> DedupeWindow:
        return DedupeWindow(self._options.dedupe_window)

    async def _stop(self, key: tuple[str, str]) -> None:
        entry = self._tasks.pop(key, None)
        consumer = self._consumers.get(key)
        if entry is None or consumer is None:
            return
        task, stopping = entry
        stopping.set()
        consumer.wake.set()
        await asyncio.gather(task, return_exceptions=True)
        consumer.bound = False
        if not consumer.durable:
            del self._consumers[key]

    def _next(self, family: str, consumer: _Consumer) -> Message | float | None:
        """The next message to deliver, or how long until a retry is due (None: no retry)."""
        now_s = time.monotonic()
        if consumer.retries and consumer.retries[0][0] <= now_s:
            return heapq.heappop(consumer.retries)[2]
        stream = self._streams[family]
        if consumer.next_seq < stream.first_seq:
            lost = stream.first_seq - consumer.next_seq
            logger.warning("consumer %s: %d message(s) expired unread", consumer.name, lost)
            consumer.next_seq = stream.first_seq
        while consumer.next_seq <= stream.last_seq:
            message = stream.get(consumer.next_seq)
            consumer.next_seq += 1
            if message is not None and subjects.matches(consumer.pattern, message.subject):
                return message
        return consumer.retries[0][0] - now_s if consumer.retries else None

    async def _run(
        self, family: str, consumer: _Consumer, handler: Handler, stopping: asyncio.Event
    ) -> None:
        while not stopping.is_set():
            consumer.wake.clear()
            item = self._next(family, consumer)
            if not isinstance(item, Message):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(consumer.wake.wait(), item)
                continue
            done = False
            try:
                outcome, reason = await handle_once(
                    handler, item, consumer.dedupe, self._options, consumer.name
                )
                done = True
            finally:
                if not done:  # cancelled mid-handler: deliver it again, same count
                    heapq.heappush(consumer.retries, (0.0, item.sequence, item))
            if outcome is Outcome.RETRY:
                due_s = time.monotonic() + retry_delay_s(self._options, item.delivery)
                again = replace(item, delivery=item.delivery + 1)
                heapq.heappush(consumer.retries, (due_s, item.sequence, again))
            elif outcome is Outcome.DEAD:
                self._dead_letter(item, consumer.name, reason)

    def _dead_letter(self, message: Message, consumer: str, reason: str) -> None:
        if subjects.parse(message.subject).family is subjects.DEAD_LETTER:
            logger.error("consumer %s: dead letter %s dropped", consumer, message.msg_id)
            return
        subject = subjects.dead_letter(message.subject)
        headers = dead_letter_headers(message, consumer, reason)
        self._store(
            subjects.DEAD_LETTER.name,
            subject,
            message.data,
            dead_letter_id(message, consumer),
            headers,
        )

    async def serve(self, subject: str, responder: Responder) -> _InProcessSubscription:
        subjects.check_rpc(subject)
        self._check_open()
        name = f"_rpc_{uuid.uuid4().hex[:12]}"
        self._responders.setdefault(subject, []).append((name, responder))

        async def stop() -> None:
            entries = self._responders.get(subject, [])
            self._responders[subject] = [e for e in entries if e[0] != name]

        return _InProcessSubscription(name, stop)

    async def request(
        self,
        subject: str,
        payload: bytes | Mapping[str, Any],
        *,
        timeout_s: float = 5.0,
        headers: Mapping[str, str] | None = None,
    ) -> Message:
        subjects.check_rpc(subject)
        data = encode_payload(subject, payload)
        user_headers = check_headers(subject, headers)
        self._check_open()
        candidates = self._responders.get(subject)
        if not candidates:
            raise NoResponderError(f"nobody serves {subject!r}")
        _, responder = candidates[next(self._rr) % len(candidates)]
        request = Message(subject, data, uuid.uuid4().hex, MappingProxyType(user_headers))
        try:
            async with asyncio.timeout(timeout_s):
                answer = await responder(request)
        except TimeoutError as exc:
            raise BusError(f"no reply on {subject!r} within {timeout_s} s") from exc
        except Exception as exc:
            raise BusError(f"responder on {subject!r} failed: {type(exc).__name__}: {exc}") from exc
        return Message(subject, encode_payload(subject, answer), uuid.uuid4().hex)

    async def close(self) -> None:
        if self._closed:
            return
        for key in list(self._tasks):
            await self._stop(key)
        self._responders.clear()
        self._closed = True


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("subscription %s stopped", task.get_name(), exc_info=task.exception())
