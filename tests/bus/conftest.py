"""Fixtures of the bus tests: every contract test runs against ``InProcessBus`` and against
a real NATS JetStream server (``OPENDERMS_TEST_NATS_URL``, default nats://127.0.0.1:4222;
``make test`` starts one with scripts/ensure-nats.sh). A NATS that does not answer fails the
tests, it never skips them. Each test gets its own namespace (streams ``t<hex>_<family>``)
and deletes its streams afterwards."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import pytest

from openderms.bus import Message, MessageBus, open_bus
from openderms.bus.jetstream import NatsJetStreamBus

NATS_URL = os.environ.get("OPENDERMS_TEST_NATS_URL", "nats://127.0.0.1:4222")
TEST_OPTIONS = {"max_deliver": 3, "retry_delay_s": 0.05, "connect_timeout_s": 3}

MakeBus = Callable[..., Awaitable[MessageBus]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def bus_url(base: str, namespace: str, **options: Any) -> str:
    return f"{base}?{urlencode({'namespace': namespace, **TEST_OPTIONS, **options})}"


@pytest.fixture(params=["memory", "nats"])
async def make_bus(request: pytest.FixtureRequest) -> AsyncIterator[MakeBus]:
    """Opens buses of one backend in one fresh namespace (each call: a new connection)."""
    base = "memory://" if request.param == "memory" else NATS_URL
    namespace = f"t{uuid.uuid4().hex[:12]}"
    opened: list[MessageBus] = []

    async def make(**options: Any) -> MessageBus:
        bus = await open_bus(bus_url(base, namespace, **options))
        opened.append(bus)
        return bus

    yield make
    for bus in opened:
        await bus.close()
    if request.param == "nats" and opened:
        admin = await open_bus(bus_url(base, namespace))
        assert isinstance(admin, NatsJetStreamBus)
        await admin.delete_streams()
        await admin.close()


@pytest.fixture
async def bus(make_bus: MakeBus) -> MessageBus:
    return await make_bus()


class Collector:
    """A handler that keeps what it is given; ``wait_for(n)`` until it has ``n``."""

    def __init__(self, fail: Callable[[Message], bool] | None = None) -> None:
        self.messages: list[Message] = []
        self.calls: list[Message] = []
        self._fail = fail
        self._changed = asyncio.Event()

    async def __call__(self, message: Message) -> None:
        self.calls.append(message)
        self._changed.set()
        if self._fail is not None and self._fail(message):
            raise RuntimeError(f"handler refuses {message.msg_id}")
        self.messages.append(message)

    async def wait_for(self, n: int, *, calls: bool = False, timeout_s: float = 10.0) -> None:
        async with asyncio.timeout(timeout_s):
            while len(self.calls if calls else self.messages) < n:
                self._changed.clear()
                await self._changed.wait()

    def payloads(self) -> list[Any]:
        return [m.json() for m in self.messages]


async def settle(seconds: float = 0.3) -> None:
    """Give deliveries that should not happen a chance to happen."""
    await asyncio.sleep(seconds)
