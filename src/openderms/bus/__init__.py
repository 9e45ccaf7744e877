"""The message bus: one asynchronous interface (``MessageBus``), two backends
(``InProcessBus``, the embedded default, and ``NatsJetStreamBus`` in production), chosen by
URL in ``open_bus``; subjects per substation in ``bus.subjects``; the registry's
synchronous ``EventPublisher`` in ``BusEventPublisher``. Semantics: ``bus.port``."""

from openderms.bus.events import BusEventPublisher
from openderms.bus.factory import bus_options, open_bus
from openderms.bus.memory import InProcessBus
from openderms.bus.port import (
    BusError,
    BusOptions,
    Deliver,
    Handler,
    Message,
    MessageBus,
    NoResponderError,
    PublishAck,
    Responder,
    Subscription,
)

__all__ = [
    "BusError",
    "BusEventPublisher",
    "BusOptions",
    "Deliver",
    "Handler",
    "InProcessBus",
    "Message",
    "MessageBus",
    "NoResponderError",
    "PublishAck",
    "Responder",
    "Subscription",
    "bus_options",
    "open_bus",
]
