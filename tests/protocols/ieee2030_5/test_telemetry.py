"""The telemetry writer (acknowledged once durable, written in batches, bounded) and the
optional publication of readings on the message bus."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from openderms.bus.port import PublishAck
from openderms.protocols.ieee2030_5.domain import EndDevice, LatestReading
from openderms.protocols.ieee2030_5.manager.telemetry import TelemetryBusyError, TelemetryWriter
from openderms.protocols.ieee2030_5.manager.telemetry_bus import TelemetryPublisher

Rows = Sequence[Mapping[str, Any]]


class SlowAppend:
    """An append that waits for ``release`` before its first commit, recording batches."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.release = threading.Event()
        self.entered = threading.Event()
        self.fail = False

    def __call__(self, rows: Rows) -> None:
        self.entered.set()
        self.release.wait(5)
        if self.fail:
            raise OSError("disk full")
        self.batches.append(len(rows))


def test_posts_waiting_for_a_commit_share_the_next_one() -> None:
    """While one transaction is being written, the posts that arrive are written together
    in the next (group commit), and each is acknowledged only after its commit."""
    append = SlowAppend()
    writer = TelemetryWriter(append)
    first = writer.submit([{"n": 0}])
    rest = [writer.submit([{"n": i}, {"n": -i}]) for i in range(1, 21)]
    assert not first.done()
    append.release.set()
    for done in (first, *rest):
        done.result(5)
    writer.close()
    assert sum(append.batches) == 41
    assert len(append.batches) <= 3


def test_a_failed_write_acknowledges_nothing() -> None:
    append = SlowAppend()
    append.fail = True
    append.release.set()
    writer = TelemetryWriter(append)
    done = writer.submit([{"n": 1}])
    with pytest.raises(OSError, match="disk full"):
        done.result(5)
    writer.close()


def test_a_full_queue_refuses_at_once() -> None:
    append = SlowAppend()
    writer = TelemetryWriter(append, max_queue=2)
    taken = [writer.submit([{"n": 0}])]
    assert append.entered.wait(5)  # one batch in flight: the queue holds two more
    taken += [writer.submit([{"n": i}]) for i in (1, 2)]
    with pytest.raises(TelemetryBusyError):
        writer.submit([{"n": 3}])
    append.release.set()
    writer.close()
    assert all(d.done() for d in taken)


def test_close_writes_what_is_queued() -> None:
    append = SlowAppend()
    append.release.set()
    writer = TelemetryWriter(append)
    pending = [writer.submit([{"n": i}]) for i in range(5)]
    writer.close()
    assert all(d.done() and d.exception() is None for d in pending)
    with pytest.raises(TelemetryBusyError):
        writer.submit([{"n": 6}])


class RecordingBus:
    """The part of ``MessageBus`` the publisher uses."""

    def __init__(self) -> None:
        self.published: list[tuple[str, Any]] = []

    async def publish(self, subject: str, payload: Any, **_: object) -> PublishAck:
        self.published.append((subject, payload))
        return PublishAck(subject=subject, msg_id=str(len(self.published)), sequence=1)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_readings_are_published_on_the_ders_telemetry_subject() -> None:
    """Readings go to ``telemetry.<substation>.<der>`` (bus subjects), values scaled."""
    bus = RecordingBus()
    publisher = TelemetryPublisher(bus, lambda der: "sub-1" if der == "der-7" else None)  # type: ignore[arg-type]
    now = datetime(2026, 11, 28, tzinfo=UTC)
    device = EndDevice(7, "ab" * 20, 1, None, None, True, None, None, None, now, der_id="der-7")
    reading = LatestReading(7, "A" * 32, "W", now, 52, 2, 38)
    await publisher.publish(device, (reading,))
    subject, payload = bus.published[0]
    assert subject == "telemetry.sub-1.der-7"
    assert payload["readings"][0]["value"] == 5200.0
