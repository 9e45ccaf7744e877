"""What a consumer does with one delivered message, the same for every backend: skip it if
its id was handled already, run the handler, and say whether to acknowledge it, deliver it
again later, or give up and dead-letter it."""

from __future__ import annotations

import enum
import logging
from collections import OrderedDict

from openderms.bus.port import (
    DEAD_CONSUMER_HEADER,
    DEAD_DELIVERIES_HEADER,
    DEAD_REASON_HEADER,
    ORIGINAL_MSG_ID_HEADER,
    BusOptions,
    Handler,
    Message,
)

logger = logging.getLogger(__name__)

_REASON_MAX_CHARS = 500


class Outcome(enum.Enum):
    HANDLED = "handled"
    DUPLICATE = "duplicate"
    RETRY = "retry"
    DEAD = "dead"


class DedupeWindow:
    """The last ``size`` message ids a consumer handled (oldest forgotten first)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, msg_id: object) -> bool:
        return msg_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, msg_id: str) -> None:
        self._ids[msg_id] = None
        self._ids.move_to_end(msg_id)
        while len(self._ids) > self._size:
            self._ids.popitem(last=False)


async def handle_once(
    handler: Handler,
    message: Message,
    dedupe: DedupeWindow,
    options: BusOptions,
    consumer: str,
) -> tuple[Outcome, str]:
    """Run ``handler`` on ``message`` unless its id is in ``dedupe``; the outcome and, on
    failure, the reason (exception type and text)."""
    if message.msg_id in dedupe:
        logger.debug("consumer %s: %s already handled, skipped", consumer, message.msg_id)
        return Outcome.DUPLICATE, ""
    try:
        await handler(message)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"[:_REASON_MAX_CHARS]
        last = message.delivery >= options.max_deliver
        logger.warning(
            "consumer %s: handler failed on %s (%s, delivery %d of %d)%s",
            consumer,
            message.subject,
            message.msg_id,
            message.delivery,
            options.max_deliver,
            ", dead-lettered" if last else ", will retry",
            exc_info=True,
        )
        if last:
            dedupe.add(message.msg_id)
        return (Outcome.DEAD if last else Outcome.RETRY), reason
    dedupe.add(message.msg_id)
    return Outcome.HANDLED, ""


def retry_delay_s(options: BusOptions, delivery: int) -> float:
    """How long to wait before delivering again a message that failed ``delivery`` times."""
    return options.retry_delay_s * delivery


def dead_letter_headers(message: Message, consumer: str, reason: str) -> dict[str, str]:
    """The headers of the dead letter of ``message``: its own headers, and why it died."""
    headers = dict(message.headers)
    headers.update(
        {
            DEAD_CONSUMER_HEADER: consumer,
            DEAD_DELIVERIES_HEADER: str(message.delivery),
            DEAD_REASON_HEADER: reason.replace("\r", " ").replace("\n", " "),
            ORIGINAL_MSG_ID_HEADER: message.msg_id,
        }
    )
    return headers


def dead_letter_id(message: Message, consumer: str) -> str:
    return f"dead:{consumer}:{message.msg_id}"
