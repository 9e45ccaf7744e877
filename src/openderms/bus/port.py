"""The message bus interface every backend implements, and the values it passes around.

Semantics shared by ``InProcessBus`` and ``NatsJetStreamBus`` (the contract tests in
``tests/bus`` run against both):

- **publish** stores the message in its family's stream and returns once it is stored
  (about 1 ms per publish on JetStream over loopback, so about 1,000 a second one after the
  other; ``asyncio.gather`` of many publishes pipelines them, about 5,000 a second measured
  here, with no order defined between the concurrent ones).
  Publishing the same ``msg_id`` twice within ``duplicate_window_s`` stores it once
  (``PublishAck.duplicate``); without ``msg_id`` a random one is given.
- **subscribe** delivers every matching stored message to ``handler``, one at a time, in
  publish order. A message is acknowledged when the handler returns. If the handler raises,
  the message is delivered again after ``retry_delay_s`` times the delivery count (later
  messages may overtake it meanwhile); after ``max_deliver`` failed deliveries it is
  published to ``dead_letter.<subject>`` (headers say which consumer gave up, how often and
  why) and acknowledged.
- Each consumer remembers the last ``dedupe_window`` message ids it handled: a message
  delivered again (a lost acknowledgement, an id published twice beyond the duplicate window)
  is acknowledged without calling the handler.
- A **durable** consumer keeps its position while no subscription runs: the next subscription
  with the same name starts where the last one stopped. ``deliver`` chooses where a *new*
  consumer starts: ``"all"`` retained messages or only ``"new"`` ones.
- **request/reply** goes over ``rpc.*`` subjects, is never stored, and raises
  ``NoResponderError`` when nobody serves the subject.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, Literal, Protocol

from openderms.bus.codec import decode_json
from openderms.errors import OpenDermsError, ValidationError, ValidationIssue

Deliver = Literal["all", "new"]

MSG_ID_HEADER = "Nats-Msg-Id"
DEAD_CONSUMER_HEADER = "Openderms-Dead-Consumer"
DEAD_DELIVERIES_HEADER = "Openderms-Dead-Deliveries"
DEAD_REASON_HEADER = "Openderms-Dead-Reason"
ORIGINAL_MSG_ID_HEADER = "Openderms-Original-Msg-Id"
ERROR_HEADER = "Openderms-Error"

_NAME = re.compile(r"[A-Za-z0-9_-]+")


class BusError(OpenDermsError):
    """The bus could not do what was asked: broker unreachable, a publish not acknowledged,
    a request that timed out or whose responder failed, a bus already closed."""


class NoResponderError(BusError):
    """A request on a subject that nobody serves."""


@dataclass(frozen=True, slots=True)
class Message:
    """One delivered message. ``subject`` is the logical subject (no namespace), ``delivery``
    counts deliveries to this consumer (1 on the first), ``sequence`` is the position in
    its family's stream (0 for request/reply)."""

    subject: str
    data: bytes
    msg_id: str
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    delivery: int = 1
    sequence: int = 0

    def json(self) -> Any:
        """The payload as plain JSON values (timestamps stay ISO 8601 strings)."""
        return decode_json(self.data)


@dataclass(frozen=True, slots=True)
class PublishAck:
    """A stored message: its stream ``sequence``; ``duplicate`` when ``msg_id`` had already
    been stored within the duplicate window (and this publish stored nothing)."""

    subject: str
    msg_id: str
    sequence: int
    duplicate: bool = False


Handler = Callable[[Message], Awaitable[None]]
Responder = Callable[[Message], Awaitable[bytes | Mapping[str, Any]]]


class Subscription(Protocol):
    """A running subscription (or responder). ``stop`` lets the message being handled
    finish, acknowledges it, and keeps a durable consumer's position for the next run."""

    @property
    def name(self) -> str: ...

    async def stop(self) -> None: ...


class MessageBus(Protocol):
    """Asynchronous publish/subscribe with durable consumers, request/reply and close."""

    async def publish(
        self,
        subject: str,
        payload: bytes | Mapping[str, Any],
        *,
        msg_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> PublishAck:
        """Store ``payload`` (bytes as is, a mapping as JSON; see ``bus.codec``) on
        ``subject`` (built with ``bus.subjects``)."""
        ...

    async def subscribe(
        self,
        subject_pattern: str,
        handler: Handler,
        *,
        durable: str | None = None,
        deliver: Deliver = "new",
    ) -> Subscription:
        """Deliver messages matching ``subject_pattern`` (literal family, then ``*``/``>``)
        to ``handler``; ``durable`` names a consumer that outlives this subscription."""
        ...

    async def serve(self, subject: str, responder: Responder) -> Subscription:
        """Answer requests on the ``rpc.*`` ``subject`` with what ``responder`` returns."""
        ...

    async def request(
        self,
        subject: str,
        payload: bytes | Mapping[str, Any],
        *,
        timeout_s: float = 5.0,
        headers: Mapping[str, str] | None = None,
    ) -> Message:
        """Send a request on an ``rpc.*`` subject and wait for one reply."""
        ...

    async def close(self) -> None:
        """Stop every subscription (letting running handlers finish) and disconnect."""
        ...


@dataclass(frozen=True, slots=True)
class BusOptions:
    """Settings of a bus; every field can be given in the bus URL's query string
    (``nats://127.0.0.1:4222?namespace=test1&max_deliver=3``).

    ``namespace`` prefixes every wire subject and stream name, so several deployments (or
    test runs) share one broker. ``max_msgs_per_family`` bounds the in-process streams
    (JetStream streams are bounded by each family's ``max_age_s``); ``replicas``,
    ``max_ack_pending``, ``ack_wait_s``, ``reconnect_wait_s`` and ``connect_timeout_s`` only
    concern JetStream."""

    namespace: str = "openderms"
    max_deliver: int = 5
    retry_delay_s: float = 0.5
    ack_wait_s: float = 30.0
    duplicate_window_s: float = 120.0
    dedupe_window: int = 10_000
    max_ack_pending: int = 256
    max_msgs_per_family: int = 100_000
    replicas: int = 1
    publish_timeout_s: float = 5.0
    reconnect_wait_s: float = 2.0
    connect_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        issues = []
        if not _NAME.fullmatch(self.namespace):
            issues.append(
                ValidationIssue(
                    "bus options", "namespace", "namespace", self.namespace, "[A-Za-z0-9_-]+"
                )
            )
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "namespace" and not value > 0:
                issues.append(ValidationIssue("bus options", f.name, f.name, value, "> 0"))
        if issues:
            raise ValidationError(issues)


def check_name(kind: str, value: str) -> str:
    """A durable or namespace name: letters, digits, ``_`` and ``-`` only."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValidationError([ValidationIssue(kind, str(value), "name", value, "[A-Za-z0-9_-]+")])
    return value


def check_headers(subject: str, headers: Mapping[str, str] | None) -> dict[str, str]:
    """User headers as a dict; names starting with ``Nats-`` are reserved for the bus."""
    out = dict(headers or {})
    bad = [
        ValidationIssue("headers", subject, name, value, "a str header not starting with 'Nats-'")
        for name, value in out.items()
        if not isinstance(name, str)
        or not isinstance(value, str)
        or name.lower().startswith("nats-")
    ]
    if bad:
        raise ValidationError(bad)
    return out


def check_msg_id(subject: str, msg_id: str | None) -> None:
    if msg_id is not None and (not isinstance(msg_id, str) or not msg_id.strip()):
        raise ValidationError(
            [ValidationIssue("message", subject, "msg_id", msg_id, "a non-empty string")]
        )
