"""The live run end to end on the ``small`` twin, in process, over real CSIP TLS on loopback:
the twin's DER registered and mapped to EndDevices and programs, the fleet's telemetry
reaching the control loop through the 2030.5 server and the bus, violations found and
controls delivered over 2030.5, a switching event posted to the REST endpoint (part of F2
carried by F1) raising overvoltages DER can act on, which the loop clears, and at the end an
AC power flow of the plant with no violation DER can act on."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import httpx
import pytest

from openderms.grid.topology import derive_topology
from openderms.grid.topology_nodes import group_ders
from openderms.registry.ports import DerQuery
from openderms.services.live.client import LIVE_FILE, live_info
from openderms.services.live.scenario import ScenarioReport, ScenarioTimings, run_scenario
from openderms.services.live.stack import LiveOptions, LiveStack
from openderms.sim.twin import Twin, build_twin

FAST = LiveOptions(
    workspace=Path("unused"),
    poll_s=5,
    post_s=5,
    loop_period_s=1.0,
    plant_period_s=1.0,
    hold_s=4.0,
    realistic=False,
)
#: generous limits: a phase ends as soon as it is mitigated (about 50 s in all on an idle machine)
TIMINGS = ScenarioTimings(noon_s=60, switching_s=45, revert_s=60, check_s=1.0, stable_checks=2)


@pytest.fixture(scope="module")
def small() -> Twin:
    return build_twin("small")


def test_the_live_stack_registers_controls_and_follows_switching_from_the_rest_api(
    small: Twin, tmp_path: Path
) -> None:
    seen: dict[str, Any] = {}

    async def scenario() -> ScenarioReport:
        async with LiveStack.start(small, dataclasses.replace(FAST, workspace=tmp_path)) as stack:
            info = live_info(tmp_path)
            assert info is not None
            assert info["api_url"] == stack.api_url
            headers = {"Authorization": f"Bearer {stack.operator_token}"}
            switching_at: list[int] = []

            async def switch(switch_id: str, closed: bool) -> None:
                async with httpx.AsyncClient(base_url=stack.api_url, headers=headers) as api:
                    r = await api.post(
                        f"/api/v1/grid/switches/{switch_id}", json={"closed": closed}
                    )
                assert r.status_code == 200, r.text
                assert r.json()["closed"] is closed
                switching_at.append(len(stack.loop.audit.entries))

            async def tick() -> None:
                return None

            report = await run_scenario(stack, switch, tick, TIMINGS)
            seen["records"] = stack.store.ders.query(DerQuery(limit=1000))[1]
            seen["mapping"] = stack.mapping
            pv = next(d.id for d in small.network.ders if d.kind == "pv")
            seen["stored_w"] = {
                r.description for r in stack.services.metering.latest_of_der(pv).values()
            }
            views = stack.loop.state.ders.values()
            seen["heard"] = sum(v.last_seen is not None for v in views)
            seen["telemetry"] = stack.telemetry.received
            seen["violations"] = len(stack.loop.audit.actions("violation"))
            q = stack.loop.queue.controls.values()
            seen["received"] = sum(e.received_at is not None for e in q)
            seen["responses"] = sum(
                len(stack.services.responses.of_control(e.handle.ref))
                for e in q
                if e.handle is not None
            )
            entries = stack.loop.audit.entries
            seen["switchings"] = len(stack.loop.audit.actions("switching"))
            seen["dispatch_after_switching"] = any(
                e.action == "dispatch" for e in entries[switching_at[0] :]
            )
            seen["actionable_end"] = stack.actionable(report.final)
        seen["live_file_after"] = (tmp_path / LIVE_FILE).exists()
        return report

    report = asyncio.run(scenario())
    nodes = group_ders(small.network, derive_topology(small.network))
    n = len(small.network.ders)
    mapping = seen["mapping"]
    assert seen["records"] == n
    assert len(set(mapping.end_device_of.values())) == n  # one EndDevice per DER
    assert set(mapping.program_of_node) == {node.id for node in nodes}
    assert all(mapping.node_of[d] == node.id for node in nodes for d in node.der_ids)
    assert seen["stored_w"] == {"W", "var", "Wavail"}
    assert seen["heard"] == n
    assert seen["telemetry"] >= n
    assert seen["violations"] >= 1
    assert seen["received"] >= 1
    assert seen["responses"] >= 1
    assert seen["switchings"] >= 2
    assert seen["dispatch_after_switching"]
    transfer = next(p for p in report.phases if p.name == "transfer")
    assert transfer.event == "TIE_F1_F2 close, F2_SEC1 open"
    # the transfer itself, under the noon controls still in force, breaks voltage limits ...
    assert transfer.actionable_at_start >= 5, transfer
    assert dict(transfer.kinds_at_start).get("overvoltage", 0) >= 5, transfer
    assert transfer.v_max_pu_at_start > 1.05
    # ... and the loop's controls clear them within the phase
    assert transfer.mitigated_after_s is not None, transfer
    assert transfer.actionable_at_end == 0
    assert report.before is not None
    assert report.before.violations
    assert report.final is not None
    assert seen["actionable_end"] == []
    assert report.reverted
    assert not seen["live_file_after"]
