"""``NatsJetStreamBus``: the production bus on NATS JetStream (nats-py).

One stream per stored subject family (``<namespace>_<family>``, file storage, limits
retention with the family's ``max_age_s``, ``duplicate_window_s`` for publish-side dedupe by
the ``Nats-Msg-Id`` header) capturing ``<namespace>.<family>.>``. Each subscription is a push
consumer with explicit acknowledgement, ``max_deliver``, ``ack_wait_s`` and
``max_ack_pending``; a durable one keeps its name and delivery subject on the server, so a new
process (or the same one after a broker restart: the client reconnects forever and the file
store keeps streams and durable consumers) resumes where the last one stopped. Ephemeral
consumers are deleted when their subscription stops (and by the server when idle).
Request/reply uses core NATS on ``<namespace>.rpc.*`` (no stream captures it), with one
queue group so each request reaches one responder.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Mapping
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription
from nats.js import api

from openderms.bus import subjects
from openderms.bus.codec import encode_payload
from openderms.bus.delivery import dead_letter_headers, dead_letter_id
from openderms.bus.jetstream_subscriptions import (
    JetStreamResponder,
    JetStreamSubscription,
    user_headers,
)
from openderms.bus.port import (
    ERROR_HEADER,
    MSG_ID_HEADER,
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

_RPC_QUEUE = "openderms-rpc"


class NatsJetStreamBus:
    """The ``MessageBus`` on NATS JetStream; create it with ``await connect(...)`` (or
    ``open_bus("nats://host:port")``)."""

    def __init__(self, nc: Client, options: BusOptions) -> None:
        self._nc = nc
        self._js = nc.jetstream(timeout=options.publish_timeout_s)
        self._options = options
        self._prefix = options.namespace + "."
        self._subs: list[JetStreamSubscription | JetStreamResponder] = []

    @classmethod
    async def connect(cls, servers: list[str], options: BusOptions) -> NatsJetStreamBus:
        """Connect to ``servers`` and make sure every family's stream exists."""

        async def on_error(exc: Exception) -> None:
            logger.warning("NATS: %s", exc)

        connected: list[Client] = []

        async def on_disconnect() -> None:
            if connected and not connected[0].is_closed:  # not our own close()
                logger.warning("NATS: disconnected from %s, reconnecting", servers)

        async def on_reconnect() -> None:
            logger.info("NATS: reconnected")

        try:
            nc = await nats.connect(
                servers=servers,
                name=f"openderms-{options.namespace}",
                connect_timeout=options.connect_timeout_s,
                reconnect_time_wait=options.reconnect_wait_s,
                max_reconnect_attempts=1,
                allow_reconnect=True,
                error_cb=on_error,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
            )
        except (nats.errors.Error, OSError) as exc:
            raise BusError(f"no NATS server answers at {', '.join(servers)}: {exc}") from exc
        # Fail fast when no server answers at start; once connected, reconnect forever.
        nc.options["max_reconnect_attempts"] = -1
        connected.append(nc)
        bus = cls(nc, options)
        try:
            await bus.ensure_streams()
        except BaseException:
            await nc.close()
            raise
        return bus

    @property
    def options(self) -> BusOptions:
        return self._options

    def stream_name(self, family: str) -> str:
        return f"{self._options.namespace}_{family}"

    def logical(self, wire_subject: str) -> str:
        return wire_subject.removeprefix(self._prefix)

    async def ensure_streams(self) -> None:
        """Create (or update to this configuration) one stream per stored family."""
        for family in subjects.STORED_FAMILIES:
            config = api.StreamConfig(
                name=self.stream_name(family.name),
                subjects=[f"{self._prefix}{family.name}.>"],
                storage=api.StorageType.FILE,
                retention=api.RetentionPolicy.LIMITS,
                discard=api.DiscardPolicy.OLD,
                max_age=family.max_age_s,
                duplicate_window=min(self._options.duplicate_window_s, family.max_age_s),
                num_replicas=self._options.replicas,
            )
            try:
                try:
                    await self._js.add_stream(config)
                except nats.js.errors.BadRequestError:  # exists with another configuration
                    await self._js.update_stream(config)
            except nats.errors.Error as exc:
                raise BusError(f"cannot create JetStream stream {config.name}: {exc}") from exc

    async def delete_streams(self) -> None:
        """Delete this namespace's streams and everything in them (tests and tools)."""
        for family in subjects.STORED_FAMILIES:
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await self._js.delete_stream(self.stream_name(family.name))

    async def publish(
        self,
        subject: str,
        payload: bytes | Mapping[str, Any],
        *,
        msg_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> PublishAck:
        subjects.stored_family(subject)
        data = encode_payload(subject, payload)
        check_msg_id(subject, msg_id)
        return await self._publish(
            subject, data, msg_id or uuid.uuid4().hex, check_headers(subject, headers)
        )

    async def _publish(
        self, subject: str, data: bytes, msg_id: str, headers: dict[str, str]
    ) -> PublishAck:
        self._check_open()
        headers[MSG_ID_HEADER] = msg_id
        try:
            ack = await self._js.publish(self._prefix + subject, data, headers=headers)
        except nats.errors.Error as exc:
            raise BusError(f"publish on {subject!r} not acknowledged: {exc!r}") from exc
        return PublishAck(subject, msg_id, ack.seq, bool(ack.duplicate))

    async def dead_letter(self, message: Message, consumer: str, reason: str) -> None:
        if subjects.parse(message.subject).family is subjects.DEAD_LETTER:
            logger.error("consumer %s: dead letter %s dropped", consumer, message.msg_id)
            return
        await self._publish(
            subjects.dead_letter(message.subject),
            message.data,
            dead_letter_id(message, consumer),
            dead_letter_headers(message, consumer, reason),
        )

    async def subscribe(
        self,
        subject_pattern: str,
        handler: Handler,
        *,
        durable: str | None = None,
        deliver: Deliver = "new",
    ) -> JetStreamSubscription:
        family = subjects.stored_family(subject_pattern, pattern=True)
        if deliver not in ("all", "new"):
            raise ValidationError(
                [ValidationIssue("subscription", subject_pattern, "deliver", deliver, "all|new")]
            )
        if durable is not None:
            check_name("durable", durable)
        self._check_open()
        stream = self.stream_name(family)
        wire_filter = self._prefix + subject_pattern
        try:
            info = await self._existing(stream, durable, wire_filter)
            if info is not None:
                sub = JetStreamSubscription(self, stream, info.name, True, handler)
                deliver_subject = info.config.deliver_subject
                sub.sub = await self._nc.subscribe(deliver_subject or "", cb=sub.on_msg)
            else:
                sub = await self._create(stream, durable, wire_filter, deliver, handler)
        except nats.errors.Error as exc:
            raise BusError(f"cannot subscribe to {subject_pattern!r}: {exc!r}") from exc
        self._subs.append(sub)
        return sub

    async def _existing(
        self, stream: str, durable: str | None, wire_filter: str
    ) -> api.ConsumerInfo | None:
        if durable is None:
            return None
        try:
            info: api.ConsumerInfo = await self._js.consumer_info(stream, durable)
        except nats.js.errors.NotFoundError:
            return None
        where = f"durable consumer {durable!r} of stream {stream}"
        if info.config.filter_subject != wire_filter:
            raise ConflictError(
                f"{where} filters {self.logical(info.config.filter_subject or '')!r}, not "
                f"{self.logical(wire_filter)!r}: use another name or the same pattern"
            )
        if info.push_bound:
            raise ConflictError(f"{where} is already running")
        if not info.config.deliver_subject:
            raise ConflictError(f"{where} is a pull consumer made by another program")
        return info

    async def _create(
        self,
        stream: str,
        durable: str | None,
        wire_filter: str,
        deliver: Deliver,
        handler: Handler,
    ) -> JetStreamSubscription:
        inbox = self._nc.new_inbox()
        sub = JetStreamSubscription(self, stream, durable or "", durable is not None, handler)
        sub.sub = await self._nc.subscribe(inbox, cb=sub.on_msg)
        config = api.ConsumerConfig(
            durable_name=durable,
            deliver_subject=inbox,
            filter_subject=wire_filter,
            deliver_policy=api.DeliverPolicy.ALL if deliver == "all" else api.DeliverPolicy.NEW,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=self._options.ack_wait_s,
            max_deliver=self._options.max_deliver,
            max_ack_pending=self._options.max_ack_pending,
        )
        try:
            info = await self._js.add_consumer(stream, config)
        except BaseException:
            await self.unsubscribe(sub.sub)
            raise
        sub.name = info.name
        return sub

    def forget(self, handle: JetStreamSubscription | JetStreamResponder) -> None:
        if handle in self._subs:
            self._subs.remove(handle)

    async def unsubscribe(self, sub: NatsSubscription) -> None:
        """Drain ``sub``: no new deliveries, handle and settle the ones already here."""
        if self._nc.is_closed:
            return
        try:
            await sub.drain()  # type: ignore[no-untyped-call]
        except nats.errors.Error as exc:
            logger.warning("NATS: could not drain a subscription: %s", exc)

    async def delete_consumer(self, stream: str, name: str) -> None:
        if self._nc.is_closed:
            return
        try:
            await self._js.delete_consumer(stream, name)
        except nats.errors.Error as exc:  # the server deletes idle ephemerals anyway
            logger.info("NATS: consumer %s of %s not deleted: %s", name, stream, exc)

    async def serve(self, subject: str, responder: Responder) -> JetStreamResponder:
        subjects.check_rpc(subject)
        self._check_open()

        async def on_request(msg: Msg) -> None:
            headers = msg.headers or {}
            msg_id = headers.get(MSG_ID_HEADER) or uuid.uuid4().hex
            request = Message(subject, msg.data, msg_id, user_headers(msg))
            try:
                answer = encode_payload(subject, await responder(request))
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}".replace("\n", " ")[:500]
                await self._nc.publish(msg.reply, b"", headers={ERROR_HEADER: reason})
                return
            await self._nc.publish(msg.reply, answer)

        sub = await self._nc.subscribe(self._prefix + subject, queue=_RPC_QUEUE, cb=on_request)
        handle = JetStreamResponder(self, f"_rpc_{uuid.uuid4().hex[:12]}", sub)
        self._subs.append(handle)
        return handle

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
        all_headers = check_headers(subject, headers)
        all_headers[MSG_ID_HEADER] = uuid.uuid4().hex
        self._check_open()
        try:
            reply = await self._nc.request(
                self._prefix + subject, data, timeout=timeout_s, headers=all_headers
            )
        except nats.errors.NoRespondersError as exc:
            raise NoResponderError(f"nobody serves {subject!r}") from exc
        except nats.errors.TimeoutError as exc:
            raise BusError(f"no reply on {subject!r} within {timeout_s} s") from exc
        except nats.errors.Error as exc:
            raise BusError(f"request on {subject!r} failed: {exc!r}") from exc
        error = (reply.headers or {}).get(ERROR_HEADER)
        if error is not None:
            raise BusError(f"responder on {subject!r} failed: {error}")
        return Message(subject, reply.data, uuid.uuid4().hex)

    def _check_open(self) -> None:
        if self._nc.is_closed:
            raise BusError("the bus is closed")

    async def close(self) -> None:
        """Stop every subscription (running handlers finish), flush and disconnect."""
        if self._nc.is_closed:
            return
        for sub in list(self._subs):
            await sub.stop()
        try:
            await self._nc.flush()
        except nats.errors.Error as exc:
            logger.warning("NATS: flush on close failed: %s", exc)
        await self._nc.close()
