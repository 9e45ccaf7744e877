"""The registry's synchronous EventPublisher port on the async bus (``BusEventPublisher``)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from openderms.bus import (
    BusError,
    BusEventPublisher,
    BusOptions,
    InProcessBus,
    MessageBus,
    subjects,
)
from openderms.bus.port import PublishAck
from openderms.errors import ValidationError
from openderms.registry.ports import EventPublisher
from tests.bus.conftest import Collector

pytestmark = pytest.mark.anyio

REGISTERED = "der.registered"  # as the registry service names its events


async def test_events_from_worker_threads_arrive_once_and_in_order(bus: MessageBus) -> None:
    got = Collector()
    await bus.subscribe("registry.der.*", got)
    publisher = await BusEventPublisher.start(bus)
    port: EventPublisher = publisher

    def register(first: int, n: int) -> None:  # the synchronous registry service
        for i in range(first, first + n):
            port.publish(REGISTERED, {"i": i, "at": datetime.now(UTC)})

    await asyncio.to_thread(register, 0, 50)
    register(50, 10)  # from the loop's own thread: returns before anything is stored
    assert publisher.pending > 0
    await publisher.flush()
    assert publisher.pending == 0
    await got.wait_for(60)
    assert [p["i"] for p in got.payloads()] == list(range(60))
    assert {m.subject for m in got.messages} == {subjects.registry_der("registered")}
    await publisher.close()
    with pytest.raises(BusError, match="closed"):
        port.publish(REGISTERED, {"i": 60})


async def test_a_bad_event_fails_in_the_caller() -> None:
    publisher = await BusEventPublisher.start(InProcessBus())
    with pytest.raises(ValidationError, match="timezone-aware"):
        publisher.publish(REGISTERED, {"at": datetime(2026, 1, 1)})
    with pytest.raises(ValidationError, match=r"registry\.der\.a b"):
        publisher.publish("der.a b", {})
    with pytest.raises(ValidationError, match=r"registry\.registry\.der\.x"):
        publisher.publish("registry.der.x", {})
    assert publisher.pending == 0
    await publisher.close()


class FlakyBus(InProcessBus):
    """An in-process bus whose first ``failures`` publishes fail (the broker is down) and
    whose stored message is also what a broker that did get it would say."""

    def __init__(self, failures: int) -> None:
        super().__init__(BusOptions())
        self.failures = failures

    async def publish(
        self,
        subject: str,
        payload: bytes | Mapping[str, Any],
        *,
        msg_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> PublishAck:
        ack = await super().publish(subject, payload, msg_id=msg_id, headers=headers)
        if self.failures > 0:
            self.failures -= 1
            raise BusError("publish not acknowledged: broker unreachable")
        return ack


async def test_events_are_kept_and_retried_while_the_bus_fails() -> None:
    bus = FlakyBus(failures=2)
    got = Collector()
    await bus.subscribe("registry.>", got)
    publisher = await BusEventPublisher.start(bus)
    for i in range(3):
        publisher.publish(REGISTERED, {"i": i})
    await publisher.flush()
    await got.wait_for(3)
    await asyncio.sleep(0.1)
    assert got.payloads() == [{"i": 0}, {"i": 1}, {"i": 2}]
    await publisher.close()
    await bus.close()


async def test_close_with_a_timeout_says_how_many_events_were_left() -> None:
    bus = FlakyBus(failures=1_000)
    publisher = await BusEventPublisher.start(bus)
    publisher.publish(REGISTERED, {"i": 0})
    with pytest.raises(BusError, match="1 event"):
        await publisher.close(timeout_s=0.2)


@pytest.mark.parametrize("event", ["der.screened", "der.provisioned", "der.status_changed"])
async def test_the_registry_event_names_become_registry_subjects(event: str) -> None:
    bus = InProcessBus()
    got = Collector()
    await bus.subscribe("registry.der.*", got)
    publisher = await BusEventPublisher.start(bus)
    publisher.publish(event, {"id": "der-1"})
    await publisher.close()
    await got.wait_for(1)
    assert got.messages[0].subject == f"registry.{event}"
    await bus.close()
