"""Simulated DER as real 2030.5 clients against the server over TLS on loopback: they
discover, register telemetry, apply a control made through the internal API, report
Responses, fall back to the DefaultDERControl when it ends, and survive a loss of
communication."""

from __future__ import annotations

import asyncio
import time

import httpx
import numpy as np

from openderms.protocols.ieee2030_5.schema.derp import (
    ActivePower,
    DefaultDERControl,
    DERControlBase,
)
from openderms.protocols.ieee2030_5.schema.response import (
    EVENT_COMPLETED,
    EVENT_RECEIVED,
    EVENT_STARTED,
)
from openderms.sim.fleet.agent import CommunicationLostError, DerAgent
from openderms.sim.fleet.behaviour import Behaviour, output_w
from openderms.sim.fleet.fleet import (
    ProfileAvailability,
    discover_all,
    end_devices,
    tls_client,
    twin_availability,
)
from openderms.sim.twin import build_twin, design_day
from tests.protocols.ieee2030_5 import provision
from tests.protocols.ieee2030_5.conftest import Running

RATED_W = 10_000.0
#: the twin's 15-min PV profile of one DER (W): a flat 9 kW all day keeps the test exact
PV = ProfileAvailability(start_s=0.0, pv_w=np.full(96, 9_000.0))
DEFAULT = DefaultDERControl(
    mrid="F" * 28 + "3039", der_control_base=DERControlBase(op_mod_max_lim_w=8000)
)


def client(running: Running, name: str) -> httpx.AsyncClient:
    p = running.pki.clients[name]
    return tls_client(running.base_url, p.cert, p.key, running.pki.ca)


def setup(running: Running) -> tuple[int, int, int]:
    d1 = provision.end_device(running, "device1")
    d2 = provision.end_device(running, "device2", aggregator="aggA")
    program = provision.program(running, [d1, d2], "feeder-1")
    running.services.programs.set_default_control(program.id, DEFAULT)
    return d1.id, d2.id, program.id


def latest_w(running: Running, end_device_id: int) -> float:
    readings = running.services.metering.latest(end_device_id)
    return next(r.value for r in readings.values() if r.uom == 38)


def statuses(running: Running, mrid: str, end_device_id: int) -> list[int]:
    return [r.status for r in running.services.responses.of_control(mrid).get(end_device_id, [])]


def test_the_behaviour_caps_output_to_a_fraction_of_rated_power() -> None:
    cap = DERControlBase(op_mod_max_lim_w=3000)
    assert output_w(9_000, RATED_W, None) == 9_000
    assert output_w(9_000, RATED_W, cap) == 3_000
    assert output_w(2_000, RATED_W, cap) == 2_000
    assert output_w(9_000, RATED_W, cap, delivery=0.5) == 6_000
    assert output_w(9_000, RATED_W, DERControlBase(op_mod_fixed_w=5000)) == 5_000
    assert output_w(9_000, RATED_W, DERControlBase(op_mod_connect=False)) == 0


def test_a_storage_inverter_follows_its_schedule_and_a_target_in_both_directions() -> None:
    """``p_min_w`` < 0: ``available`` is the schedule (charging negative); a cap only lowers
    export, ``opModTargetW`` moves it anywhere between its charge and discharge ratings."""
    charge = -4_000.0
    assert output_w(charge, RATED_W, None, p_min_w=-RATED_W) == charge
    assert output_w(charge, RATED_W, DERControlBase(op_mod_max_lim_w=0), p_min_w=-RATED_W) == (
        charge
    )
    target = DERControlBase(op_mod_target_w=ActivePower(value=-7_000, multiplier=0))
    assert output_w(charge, RATED_W, target, p_min_w=-RATED_W) == -7_000
    assert output_w(charge, RATED_W, target) == 0  # a PV inverter never draws power
    assert output_w(charge, RATED_W, None) == 0


def test_fleet_discovers_applies_a_control_reports_and_falls_back_to_default(
    running: Running,
) -> None:
    d1, d2, program_id = setup(running)

    async def scenario() -> None:
        async with client(running, "device1") as own, client(running, "aggA") as agg:
            managed = {(e.lfdi or "").lower(): e for e in await end_devices(agg)}
            agents = [
                DerAgent(
                    own, running.pki.identities["device1"].lfdi, rated_w=RATED_W, available=PV
                ),
                DerAgent(
                    agg, running.pki.identities["device2"].lfdi, rated_w=RATED_W, available=PV
                ),
            ]
            await discover_all(agents, managed)
            for a in agents:  # no event: the default control (80 %) is in force
                await a.step()
                await a.post_telemetry()
            assert [latest_w(running, d) for d in (d1, d2)] == [8_000, 8_000]

            mrid = provision.control(
                running,
                program_id,
                start_in_s=-1,
                duration_s=3,
                controls=DERControlBase(op_mod_max_lim_w=3000),
            )
            for a in agents:
                await a.poll()
                await a.step()
                await a.post_telemetry()
            assert [latest_w(running, d) for d in (d1, d2)] == [3_000, 3_000]
            assert statuses(running, mrid, d1) == [EVENT_RECEIVED, EVENT_STARTED]
            assert statuses(running, mrid, d2) == [EVENT_RECEIVED, EVENT_STARTED]

            await asyncio.sleep(3.2)  # the event ends
            for a in agents:
                await a.step()
                await a.post_telemetry()
            assert [latest_w(running, d) for d in (d1, d2)] == [8_000, 8_000]
            assert statuses(running, mrid, d1)[-1] == EVENT_COMPLETED
            assert statuses(running, mrid, d2)[-1] == EVENT_COMPLETED

    asyncio.run(scenario())


def test_an_offline_device_keeps_its_event_then_reverts_to_default_and_catches_up(
    running: Running,
) -> None:
    d1, _, program_id = setup(running)

    async def scenario() -> None:
        async with client(running, "device1") as own:
            agent = DerAgent(
                own,
                running.pki.identities["device1"].lfdi,
                rated_w=RATED_W,
                available=PV,
                behaviour=Behaviour(delivery=0.9),
            )
            await discover_all([agent])
            mrid = provision.control(
                running,
                program_id,
                start_in_s=-1,
                duration_s=2,
                controls=DERControlBase(op_mod_max_lim_w=2000),
            )
            await agent.poll()
            await agent.step()
            assert agent.output()[0] == 9_000 - (9_000 - 2_000) * 0.9
            agent.go_offline(3)
            try:
                await agent.post_telemetry()
                raise AssertionError("an offline device posted")
            except CommunicationLostError:
                pass
            await asyncio.sleep(2.2)  # the event ends while offline: the default applies
            await agent.step()
            assert agent.applied == DEFAULT.der_control_base
            assert statuses(running, mrid, d1) == [EVENT_RECEIVED, EVENT_STARTED]
            while not agent.online:
                await asyncio.sleep(0.1)
            later = provision.control(
                running,
                program_id,
                start_in_s=-1,
                duration_s=60,
                controls=DERControlBase(op_mod_max_lim_w=1000),
            )
            await agent.poll()  # back online: the completion was lost, the new event is seen
            await agent.step()
            await agent.post_telemetry()
            assert latest_w(running, d1) == 9_000 - (9_000 - 1_000) * 0.9
            assert statuses(running, later, d1) == [EVENT_RECEIVED, EVENT_STARTED]

    t0 = time.monotonic()
    asyncio.run(scenario())
    assert time.monotonic() - t0 < 30


def test_availability_follows_the_twins_design_day_per_der_and_step() -> None:
    twin = build_twin("small", seed=0)
    timestamps, inj = design_day(twin)
    pv = twin_availability(timestamps, inj)
    assert len(pv) == len(twin.network.ders)
    noon = timestamps[twin.noon_step].timestamp() + 60
    j = int(np.argmax(inj.der_p_kw[twin.noon_step]))
    assert pv[j](noon) == inj.der_p_kw[twin.noon_step, j] * 1000
    assert pv[j](timestamps[0].timestamp() + 86_400 + 60) == pv[j](timestamps[0].timestamp() + 60)
