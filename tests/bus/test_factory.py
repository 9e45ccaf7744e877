"""Choosing a backend is configuration: ``open_bus(url)`` and the options in its query."""

from __future__ import annotations

import socket

import pytest

from openderms.bus import BusError, BusOptions, InProcessBus, bus_options, open_bus
from openderms.errors import ValidationError

pytestmark = pytest.mark.anyio


def test_options_come_from_the_url_query() -> None:
    options = bus_options("nats://h:4222?namespace=site1&max_deliver=2&retry_delay_s=0.1")
    assert options == BusOptions(namespace="site1", max_deliver=2, retry_delay_s=0.1)
    assert bus_options("memory://") == BusOptions()


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("memory://?colour=red", "colour"),
        ("memory://?max_deliver=two", "max_deliver='two', expected a int"),
        ("memory://?max_deliver=0", "max_deliver=0, expected > 0"),
        ("memory://?namespace=a.b", "namespace='a.b'"),
    ],
)
def test_bad_options_are_named(url: str, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        bus_options(url)


async def test_memory_url_gives_the_in_process_bus() -> None:
    bus = await open_bus("memory://?namespace=x")
    assert isinstance(bus, InProcessBus)
    assert bus.options.namespace == "x"
    await bus.close()


async def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValidationError, match="memory:// or nats://"):
        await open_bus("redis://127.0.0.1:6379")


async def test_no_nats_server_is_a_bus_error_not_a_hang() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(BusError, match="no NATS server answers"):
        await open_bus(f"nats://127.0.0.1:{port}?connect_timeout_s=1&reconnect_wait_s=0.1")
