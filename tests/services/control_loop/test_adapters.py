"""The 2030.5 delivery adapter against the server's internal API on SQLite (in process, no
TLS), and the asyncio runner on the in-process bus."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from openderms.bus import InProcessBus
from openderms.bus import subjects as sub
from openderms.protocols.ieee2030_5.schema.derp import ActivePower, ReactivePower
from openderms.protocols.ieee2030_5.schema.response import DERControlResponse
from openderms.protocols.ieee2030_5.security.identity import ClientIdentity
from openderms.protocols.ieee2030_5.services import build_services
from openderms.services.control_loop import (
    ControlLoopRunner,
    ControlQueue,
    ControlRequest,
    ControlStatus,
    DefaultControl,
    DeliveryError,
    DeliveryHandle,
    ResponseEvent,
    ResponseStatus,
)
from openderms.services.control_loop.ieee2030_5 import Ieee2030_5Delivery, percent_of, scaled
from openderms.services.control_loop.ieee2030_5_responses import Ieee2030_5Responses
from openderms.services.control_loop.runner import BusResponses, response_payload
from openderms.store import Store
from tests.bus.conftest import Collector, MakeBus
from tests.services.control_loop.conftest import MakeHarness

T0 = datetime(2026, 7, 15, 19, 0, tzinfo=UTC)


def test_a_queued_control_reaches_the_der_control_list(sqlite_store: Store) -> None:
    """IEEE 2030.5 clause 10.10: a DERControl for the EndDevice appears in its program's
    DERControlList (and is Active inside its interval); cancelling sets it Cancelled."""
    s = build_services(sqlite_store.engine, pen=7, clock=lambda: T0)
    agg, dev = ClientIdentity.from_lfdi(f"{1:040x}"), ClientIdentity.from_lfdi(f"{2:040x}")
    s.end_devices.put_client(agg, "aggregator", "agg")
    device = s.end_devices.ensure(dev, agg.lfdi, pin=111115, der_id="PV_1")
    adapter = Ieee2030_5Delivery(s.programs, {"PV_1": device.id}, pen=7)
    queue = ControlQueue(adapter)
    req = ControlRequest(
        "ctl-1", "PV_1", T0, T0 + timedelta(minutes=15), p_max_kw=3.0, q_kvar=-1.25,
        rated_kw=5.0, reason="overvoltage", constraint="overvoltage:B1",
    )  # fmt: skip
    entry = queue.submit(req, "agg", T0)
    queue.deliver(T0)
    assert entry.status is ControlStatus.SENT
    assert entry.handle is not None
    client = s.end_devices.client(agg)
    program = s.programs.device_program(device.id)
    controls = s.programs.controls(client, program.id)
    assert [c.mrid for c in controls] == [entry.handle.ref]
    base = controls[0].controls
    assert base.op_mod_max_lim_w == 6000  # 60.00 % of 5 kW
    assert base.op_mod_target_var == ReactivePower(value=-1250, multiplier=0)
    assert controls[0].duration_s == 900
    assert controls[0].description == "ctl-1"
    assert [c.mrid for c in s.programs.active_controls(client, program.id)] == [entry.handle.ref]
    adapter.set_default(DefaultControl("PV_1", 4.0, 5.0))
    assert s.programs.default_control(client, program.id).der_control_base.op_mod_max_lim_w == 8000
    queue.cancel("PV_1", T0, "revert")
    assert s.programs.active_controls(client, program.id) == []
    with pytest.raises(DeliveryError):
        adapter.send(ControlRequest("x", "unknown", T0, T0 + timedelta(minutes=1), p_kw=1.0))


def test_a_control_for_a_topology_node_goes_to_its_program(sqlite_store: Store) -> None:
    """A grouped resource (an aggregator's topology node) is controlled through its
    DERProgram: one DERControl every EndDevice of the program's FSA sees."""
    s = build_services(sqlite_store.engine, pen=7, clock=lambda: T0)
    agg, dev = ClientIdentity.from_lfdi(f"{3:040x}"), ClientIdentity.from_lfdi(f"{4:040x}")
    s.end_devices.put_client(agg, "aggregator", "agg")
    device = s.end_devices.ensure(dev, agg.lfdi, pin=111115)
    fsa = s.fsas.ensure("tx:XF_1")
    s.fsas.assign(device.id, fsa.id)
    program = s.programs.ensure_program(fsa.id, "tx:XF_1", 2)
    adapter = Ieee2030_5Delivery(s.programs, {}, {"tx:XF_1": program.id}, pen=7)
    handle = adapter.send(
        ControlRequest("c", "tx:XF_1", T0, T0 + timedelta(minutes=5), p_kw=-40_000.0)
    )
    controls = s.programs.controls(s.end_devices.client(agg), program.id)
    assert [c.mrid for c in controls] == [handle.ref]
    assert controls[0].controls.op_mod_target_w == ActivePower(value=-4000, multiplier=4)


def test_csip_units() -> None:
    assert scaled(-250_000.0) == (-25_000, 1)
    assert scaled(1234.0) == (1234, 0)
    assert ActivePower(value=scaled(5e6)[0], multiplier=scaled(5e6)[1]).value == 5000
    assert percent_of(7.5, 5.0) == 10_000
    assert percent_of(-1.0, 5.0) == 0


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_runner_publishes_violations_and_plans(
    make_harness: MakeHarness, make_bus: MakeBus
) -> None:
    """On the in-process bus and on a real NATS JetStream server."""
    h = make_harness(defaults=False)
    bus = await make_bus()
    runner = ControlLoopRunner(bus, h.loop, h.clock)
    await runner.start()
    seen = Collector()
    await bus.subscribe("violations.sub1", seen, deliver="all")
    await bus.subscribe("control_plans.sub1", seen, deliver="all")
    now = h.clock.now()
    await asyncio.gather(
        *(
            bus.publish(sub.telemetry("sub1", der_id), payload)
            for der_id, payload in h.fleet.telemetry(now).items()
        )
    )
    await bus.publish(sub.measurements("sub1"), {"loads": {}})
    for _ in range(500):
        if all(v.last_seen == now for v in h.loop.state.ders.values()):
            break
        await asyncio.sleep(0.01)
    assert all(v.last_seen == now for v in h.loop.state.ders.values())
    report = await runner.run_once()
    assert report.violations
    await seen.wait_for(2)
    assert {m.subject for m in seen.messages} == {"violations.sub1", "control_plans.sub1"}
    plan = next(m.json() for m in seen.messages if m.subject == "control_plans.sub1")
    assert plan["controls"]
    assert plan["queued"]
    await runner.stop()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_responses_from_the_bus_move_a_control_to_started() -> None:
    bus = InProcessBus()
    source = BusResponses(bus, "sub1")
    await source.start()
    queue = ControlQueue(RecordingDelivery())
    entry = queue.submit(
        ControlRequest("c1", "PV_1", T0, T0 + timedelta(minutes=5), p_max_kw=1.0), "agg", T0
    )
    queue.deliver(T0)
    assert entry.handle is not None
    for status in (ResponseStatus.RECEIVED, ResponseStatus.STARTED):
        event = ResponseEvent(entry.handle.ref, "PV_1", status, T0 + timedelta(seconds=2))
        await bus.publish(sub.responses("sub1"), response_payload(event))
    got: list[ResponseEvent] = []
    for _ in range(50):
        await asyncio.sleep(0.01)
        got += source.drain()
        if len(got) == 2:
            break
    queue.on_responses(got, T0 + timedelta(seconds=3))
    assert entry.status is ControlStatus.STARTED
    assert queue.rates()["all"].first_try == 1
    await source.stop()
    await bus.close()


class RecordingDelivery:
    def send(self, request: ControlRequest) -> DeliveryHandle:
        return DeliveryHandle(request.control_id, request.der_id, f"ref-{request.control_id}")

    def cancel(self, handle: DeliveryHandle) -> None:
        pass

    def set_default(self, default: DefaultControl) -> None:
        pass


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_runner_steps_until_stopped(make_harness: MakeHarness) -> None:
    h = make_harness(defaults=False)
    bus = InProcessBus()
    runner = ControlLoopRunner(bus, h.loop, h.clock, period_s=0.01)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    for _ in range(200):
        await asyncio.sleep(0.01)
        if h.loop.audit.actions("dispatch"):
            break
    stop.set()
    await asyncio.wait_for(task, 5.0)
    assert h.loop.audit.actions("dispatch")
    await bus.close()


def test_device_responses_track_a_2030_5_control(sqlite_store: Store) -> None:
    """IEEE 2030.5 clause 10.4 (table 27): the device's Responses to its DERControl (1
    received, 2 started) move the queued control along; an opt-out (4) is not delivered."""
    s = build_services(sqlite_store.engine, pen=7, clock=lambda: T0)
    dev = ClientIdentity.from_lfdi(f"{5:040x}")
    device = s.end_devices.ensure(dev, pin=111115, der_id="PV_5")
    source = Ieee2030_5Responses(s.responses, lambda: T0)
    adapter = Ieee2030_5Delivery(s.programs, {"PV_5": device.id}, pen=7, responses=source)
    queue = ControlQueue(adapter)
    end = T0 + timedelta(minutes=15)
    entry = queue.submit(ControlRequest("c5", "PV_5", T0, end, p_max_kw=2.0, rated_kw=4.0), "-", T0)
    queue.deliver(T0)
    assert entry.handle is not None
    client = s.end_devices.client(dev)
    for status in (1, 2):
        s.responses.post(
            client,
            DERControlResponse(end_device_lfdi=dev.lfdi, status=status, subject=entry.handle.ref),
        )
    queue.on_responses(source.drain(), T0)
    assert entry.status is ControlStatus.STARTED
    assert entry.received_at is not None
    assert source.drain() == []  # each response once
    other = queue.submit(ControlRequest("c6", "PV_5", T0, end, p_max_kw=1.0, rated_kw=4.0), "-", T0)
    queue.deliver(T0)
    assert other.handle is not None
    s.responses.post(
        client, DERControlResponse(end_device_lfdi=dev.lfdi, status=4, subject=other.handle.ref)
    )
    events = source.drain()
    assert [e.status for e in events] == [ResponseStatus.NOT_DELIVERED]
