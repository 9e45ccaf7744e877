"""Use cases 3, 4 and 5 through the whole loop on the ``small`` twin at noon: telemetry in,
controls out over the in-memory link, the simulated fleet following them, and an independent
AC power flow of the fleet as it really runs showing no violation at the end."""

from __future__ import annotations

import dataclasses

import numpy as np

from openderms.control import NetLoadLimits
from openderms.grid.engines.pgm_model import PgmModel
from openderms.grid.model import Network
from openderms.services.control_loop import ControlStatus, LoopConfig
from openderms.services.control_loop.sim import Harness, switch_payload
from openderms.sim.twin import Twin
from tests.services.control_loop.conftest import MakeHarness


def controls_text(h: Harness, n: int = 6) -> str:
    plans = [r.plan for r in h.reports if r.plan is not None]
    lines = [f"{len(plans)} plans; audit: {[e.action for e in h.loop.audit.entries][:30]}"]
    for c in plans[-1].controls[:n] if plans else ():
        lines.append(f"  {c.der_id}: p_max={c.p_max_kw} p={c.p_kw} q={c.q_kvar} -- {c.reason}")
    return "\n".join(lines)


def test_uc5_overvoltage_noon_cleared_by_delivered_controls(make_harness: MakeHarness) -> None:
    h = make_harness()
    first = h.run(1)
    assert {v.kind for v in first.violations} == {"overvoltage"}
    assert first.plan is not None
    assert first.plan.controls, controls_text(h)
    h.run(4)
    assert h.ac_violations() == (), controls_text(h)
    assert h.reports[-1].violations == ()
    done = [e for e in h.loop.queue.controls.values() if e.received_at is not None]
    assert {c.der_id for c in first.plan.controls} <= {e.der_id for e in done}
    early = h.loop.audit.actions("heuristic_sent")  # the heuristic's went out first
    assert early
    assert h.loop.audit.entries.index(early[0]) < h.loop.audit.entries.index(
        h.loop.audit.actions("dispatch")[0]
    )
    assert all(e.request.constraint.startswith("overvoltage:") for e in done)
    assert h.loop.queue.rates()["all"].eventual_rate == 1.0
    assert h.loop.audit.actions("violation")
    assert h.loop.audit.actions("dispatch")


def _derated(net: Network) -> tuple[Network, str, str]:
    """``net`` with a service transformer rated at 75 % of its flow: the one exporting the
    most among those well inside their voltage limits (so the thermal limit alone asks)."""
    r = PgmModel.from_network(net).solve()
    v = r.bus_v_range_pu()
    names = {
        t.id: t for t in net.transformers if t.kind == "service" and v[t.windings[1].bus][1] < 1.04
    }
    k = min(
        (
            i
            for i, b in enumerate(r.branch_ids)
            if b in names and abs(r.q_from_kvar[i]) < 0.3 * abs(r.p_from_kw[i])
        ),
        key=lambda i: r.p_from_kw[i],
    )
    tr = names[r.branch_ids[k]]
    s_kva = 0.75 * float(np.hypot(r.p_from_kw[k], r.q_from_kvar[k]))
    windings = tuple(dataclasses.replace(w, s_kva=s_kva) for w in tr.windings)
    trs = tuple(
        dataclasses.replace(t, windings=windings) if t is tr else t for t in net.transformers
    )
    return dataclasses.replace(net, transformers=trs), tr.id, tr.windings[1].bus


def test_uc3_thermal_service_transformer_relieved(small: Twin, make_harness: MakeHarness) -> None:
    net, tr_id, lv = _derated(small.network)
    h = make_harness(net, defaults=False)
    first = h.run(1)
    assert f"thermal:{tr_id}" in {v.key for v in first.violations}
    h.run(4)
    assert h.ac_violations() == (), controls_text(h)
    behind = {d.id for d in net.ders if d.bus == lv}
    thermal = [
        e for e in h.loop.queue.controls.values() if e.request.constraint == f"thermal:{tr_id}"
    ]
    assert thermal, controls_text(h)
    assert {e.der_id for e in thermal} <= behind
    assert all(e.received_at is not None for e in thermal)


def test_uc4_peak_import_limit_held_by_storage(small: Twin, make_harness: MakeHarness) -> None:
    net = small.network_at(small.evening_peak_step)
    import_kw = PgmModel.from_network(net).solve().substation_p_kw
    limits = NetLoadLimits(import_max_kw=import_kw - 60.0)
    h = make_harness(net, config=LoopConfig(limits=limits), defaults=False)
    first = h.run(1)
    assert "net_load_import:substation" in {v.key for v in first.violations}
    h.run(4)
    assert h.ac_violations() == (), controls_text(h)
    reasons = {e.request.constraint for e in h.loop.queue.controls.values()}
    assert "net_load_import:substation" in reasons
    kinds = {
        net.ders[[d.id for d in net.ders].index(e.der_id)].kind
        for e in h.loop.queue.controls.values()
    }
    assert kinds <= {"battery", "ev_charger"}
    early = {c for e in h.loop.audit.actions("heuristic_sent") for c in e.controls}
    statuses = {e.status for e in h.loop.queue.controls.values() if e.control_id not in early}
    assert statuses <= {ControlStatus.STARTED, ControlStatus.RECEIVED, ControlStatus.SUPERSEDED}


def test_unplanned_switching_from_scada_is_redispatched(
    small: Twin, make_harness: MakeHarness
) -> None:
    """A feeder's head breaker opens and the tie closes (SCADA reports it on the bus): the
    loop re-derives the topology, sees the new violations and clears them."""
    f1, f2 = small.feeders[0], small.feeders[1]
    tie = next(t for t in f1.ties if t in f2.ties)
    h = make_harness(defaults=False)
    h.run(3)
    states = {f1.head_breaker: False, tie: True}
    h.fleet.set_switches(states)
    h.loop.ingest_switch_states(switch_payload(states), h.clock.now())
    assert h.loop.audit.actions("switching")
    assert h.loop.state.switch_changes == 1
    h.run(5)
    assert h.ac_violations() == (), controls_text(h)
    assert any(r.plan is not None for r in h.reports[3:])
