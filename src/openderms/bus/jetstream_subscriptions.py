"""The subscription handles of ``NatsJetStreamBus``: a push consumer with the core
subscription on its delivery subject, and a request/reply responder."""

from __future__ import annotations

import logging
from types import MappingProxyType
from typing import TYPE_CHECKING

import nats.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription

from openderms.bus.delivery import DedupeWindow, Outcome, handle_once, retry_delay_s
from openderms.bus.port import MSG_ID_HEADER, BusError, Handler, Message

if TYPE_CHECKING:
    from openderms.bus.jetstream import NatsJetStreamBus

logger = logging.getLogger(__name__)


def user_headers(msg: Msg) -> MappingProxyType[str, str]:
    return MappingProxyType(
        {k: v for k, v in (msg.headers or {}).items() if not k.lower().startswith("nats-")}
    )


class JetStreamSubscription:
    """One push consumer and the core subscription on its delivery subject."""

    def __init__(
        self, bus: NatsJetStreamBus, stream: str, name: str, durable: bool, handler: Handler
    ) -> None:
        self._bus = bus
        self._stream = stream
        self.name = name
        self._durable = durable
        self._handler = handler
        self._dedupe = DedupeWindow(bus.options.dedupe_window)
        self.sub: NatsSubscription | None = None

    async def on_msg(self, msg: Msg) -> None:
        if not (msg.reply or "").startswith("$JS.ACK."):  # not a stored message: ignore
            logger.debug("consumer %s: ignored %s %s", self.name, msg.subject, msg.headers)
            return
        meta = msg.metadata
        headers = msg.headers or {}
        message = Message(
            subject=self._bus.logical(msg.subject),
            data=msg.data,
            msg_id=headers.get(MSG_ID_HEADER) or f"{self._stream}:{meta.sequence.stream}",
            headers=user_headers(msg),
            delivery=meta.num_delivered,
            sequence=meta.sequence.stream,
        )
        options = self._bus.options
        outcome, reason = await handle_once(
            self._handler, message, self._dedupe, options, self.name
        )
        try:
            if outcome is Outcome.RETRY:
                await msg.nak(delay=retry_delay_s(options, message.delivery))
            elif outcome is Outcome.DEAD:
                await self._bus.dead_letter(message, self.name, reason)
                await msg.term()
            else:
                await msg.ack()
        except (nats.errors.Error, BusError) as exc:  # the server delivers it again later
            logger.warning("consumer %s: could not settle %s: %s", self.name, message, exc)

    async def stop(self) -> None:
        """Stop delivery, handle what was already delivered, acknowledge it; delete the
        consumer unless it is durable."""
        sub, self.sub = self.sub, None
        if sub is None:
            return
        self._bus.forget(self)
        await self._bus.unsubscribe(sub)
        if not self._durable:
            await self._bus.delete_consumer(self._stream, self.name)


class JetStreamResponder:
    def __init__(self, bus: NatsJetStreamBus, name: str, sub: NatsSubscription) -> None:
        self._bus = bus
        self.name = name
        self._sub = sub

        self._stopped = False

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._bus.forget(self)
        await self._bus.unsubscribe(self._sub)
