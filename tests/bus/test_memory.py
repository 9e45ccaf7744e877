"""What only the in-process bus has: a bounded in-memory stream per family."""

from __future__ import annotations

import logging

import pytest

from openderms.bus import BusOptions, InProcessBus, subjects
from tests.bus.conftest import Collector, settle

pytestmark = pytest.mark.anyio


async def test_each_family_keeps_its_last_messages() -> None:
    bus = InProcessBus(BusOptions(max_msgs_per_family=5))
    for i in range(8):
        await bus.publish(subjects.measurements("s1"), {"i": i})
    await bus.publish(subjects.violations("s1"), {"i": 100})
    got = Collector()
    await bus.subscribe("measurements.>", got, deliver="all")
    await got.wait_for(5)
    await settle(0.1)
    assert got.payloads() == [{"i": i} for i in range(3, 8)]
    await bus.close()


async def test_a_lagging_durable_is_told_what_it_lost(caplog: pytest.LogCaptureFixture) -> None:
    bus = InProcessBus(BusOptions(max_msgs_per_family=3))
    first = Collector()
    sub = await bus.subscribe("responses.s1", first, durable="tracker")
    await bus.publish(subjects.responses("s1"), {"i": 0})
    await first.wait_for(1)
    await sub.stop()
    for i in range(1, 6):
        await bus.publish(subjects.responses("s1"), {"i": i})
    again = Collector()
    with caplog.at_level(logging.WARNING, logger="openderms.bus.memory"):
        await bus.subscribe("responses.s1", again, durable="tracker")
        await again.wait_for(3)
    assert again.payloads() == [{"i": 3}, {"i": 4}, {"i": 5}]
    assert "2 message(s) expired unread" in caplog.text
    await bus.close()


async def test_requests_are_shared_between_responders() -> None:
    bus = InProcessBus()
    seen: list[str] = []

    def responder(name: str):  # type: ignore[no-untyped-def]
        async def answer(message: object) -> bytes:
            seen.append(name)
            return name.encode()

        return answer

    subject = subjects.rpc("market", "clear")
    await bus.serve(subject, responder("a"))
    await bus.serve(subject, responder("b"))
    replies = [(await bus.request(subject, b"")).data for _ in range(4)]
    assert sorted(replies) == [b"a", b"a", b"b", b"b"]
    await bus.close()
