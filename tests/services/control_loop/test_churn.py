"""Against control churn (the direction-aware deadband) and DER never heard from."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from openderms.control import DerControl
from openderms.services.control_loop import ControlRequest, LoopConfig
from openderms.services.control_loop.plans import deadband_holds, within_deadband
from tests.services.control_loop.conftest import MakeHarness

T0 = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)


def _open(p_max_kw: float | None = None, q_kvar: float | None = None) -> ControlRequest:
    return ControlRequest(
        control_id="c1",
        der_id="PV1",
        start=T0,
        expiry=T0 + timedelta(minutes=15),
        p_max_kw=p_max_kw,
        q_kvar=q_kvar,
        rated_kw=10.0,
        s_kva=10.0,
        constraint="overvoltage:B1",
    )


def _new(p_max_kw: float | None = None, q_kvar: float | None = None) -> DerControl:
    return DerControl(
        der_id="PV1", reason="test", p_max_kw=p_max_kw, q_kvar=q_kvar, constraint="overvoltage:B1"
    )


def test_deadband_is_direction_aware() -> None:
    kw = {"tolerance": 0.2, "deadband_kw": 1.0}
    # a looser cap inside the deadband never goes out: the open one is the safer
    assert within_deadband(_open(5.0), _new(5.8), violated=False, **kw)
    assert within_deadband(_open(5.0), _new(5.8), violated=True, **kw)
    # a tighter one inside the deadband goes out only while its constraint is violated
    assert within_deadband(_open(5.0), _new(4.2), violated=False, **kw)
    assert not within_deadband(_open(5.0), _new(4.2), violated=True, **kw)
    # beyond the deadband, either way, always
    assert not within_deadband(_open(5.0), _new(6.5), violated=False, **kw)
    assert not within_deadband(_open(5.0), _new(3.5), violated=False, **kw)
    # vars: inside the deadband only while not violated; a set point added: always
    assert within_deadband(_open(q_kvar=-2.0), _new(q_kvar=-2.5), violated=False, **kw)
    assert not within_deadband(_open(q_kvar=-2.0), _new(q_kvar=-2.5), violated=True, **kw)
    assert not within_deadband(_open(5.0), _new(5.0, q_kvar=-0.5), violated=False, **kw)
    assert within_deadband(_open(5.0), _new(5.1), violated=True, **kw)  # the tolerance


def test_the_deadband_sends_fewer_controls_and_still_clears(make_harness: MakeHarness) -> None:
    """Noon with the sun rising 2 % a step: each step re-dispatches and moves set points a
    little; with the deadband fewer controls go out, and the network ends clean."""
    counts, dispatches = {}, {}
    for deadband_kw, pct in ((0.0, 0.0), (1.0, 10.0)):
        h = make_harness(config=LoopConfig(deadband_kw=deadband_kw, deadband_pct=pct))
        h.run(2)
        for _ in range(8):
            h.fleet.set_available(h.fleet.available_kw * 1.02)
            h.run(1)
        h.run(3)
        assert h.ac_violations() == (), deadband_kw
        counts[deadband_kw] = len(h.loop.queue.controls)
        dispatches[deadband_kw] = len(h.loop.audit.actions("dispatch"))
    assert dispatches[1.0] >= 5, dispatches
    assert counts[1.0] < 0.8 * counts[0.0], (counts, dispatches)


def test_der_never_heard_from_are_silent_after_the_silence_period(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(defaults=False)
    never = [d.id for d in h.fleet.net.ders[:5]]
    h.fleet.link.set_offline(never)  # they never send telemetry
    h.run(3)  # 60 s after the start: not yet 3 periods of 30 s
    assert not h.loop.audit.actions("failsafe")
    h.run(2)
    found = {e.controls[0] for e in h.loop.audit.actions("failsafe")}
    assert found == set(never)
    assert all("never heard from" in e.why for e in h.loop.audit.actions("failsafe"))
    assert all(not h.loop.state.ders[d].controllable for d in never)


def test_kept_set_points_are_checked_in_an_ac_power_flow(make_harness: MakeHarness) -> None:
    """Open set points kept by the deadband must leave the network clean; if they would
    not, the loop sends the plan's instead."""
    h = make_harness()
    report = h.run(1)
    plan = report.plan
    assert plan is not None
    assert plan.controls
    st = h.loop.state
    opened = {e.der_id: e.request for e in h.loop.queue.open_controls()}
    as_planned = [(c, opened[c.der_id]) for c in plan.controls if c.der_id in opened]
    assert len(as_planned) == len(plan.controls)
    kw = {"limits": None, "outside": h.loop.outside_control, "now": h.clock.now()}
    assert deadband_holds(st, plan, as_planned, **kw)
    released = [
        (c, dataclasses.replace(r, p_max_kw=None, p_kw=None, q_kvar=0.0)) for c, r in as_planned
    ]
    assert not deadband_holds(st, plan, released, **kw)
