"""Switching (OpFlex): a switch order changes the topology and the DERMS re-dispatches.

The hand network (``tests.grid.builders.two_feeders``) checks the mechanics; the ``camden``
twin the scenarios of the issue: at noon a feeder-head breaker opens and a tie closes so the
whole feeder hangs off its neighbour's end (overvoltage); at the evening peak the outer section
moves across the tie through the last sectionaliser (undervoltage, overloads). Each ends with an
AC power flow of the switched network with the plan applied.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from openderms.control import (
    Fleet,
    SwitchingAction,
    apply_switching,
    detect_violations,
    redispatch,
)
from openderms.grid.engines.pgm_model import PgmModel
from openderms.sim.twin import Twin
from tests.control.scenario import describe
from tests.grid.builders import two_feeders


def test_transfer_is_break_before_make() -> None:
    action = SwitchingAction.transfer("brk2", "tie12")
    assert action.steps == (("brk2", False), ("tie12", True))
    assert action.states() == {"brk2": False, "tie12": True}
    assert not action.planned
    assert action.description == "open brk2, close tie12"


def test_apply_switching_moves_the_feeder_to_its_neighbour() -> None:
    net = two_feeders()
    new, topo = apply_switching(net, SwitchingAction.transfer("brk2", "tie12"))
    assert {s.id: s.closed for s in new.switches} == {"brk1": True, "brk2": False, "tie12": True}
    assert topo.feeder[topo.index("f2_0")] == "F1"  # now fed through brk1 and the tie
    assert "tie12" in topo.path_to_source("f2_0")
    assert bool(topo.energised.all())


def test_redispatch_marks_der_without_supply_offline() -> None:
    net = two_feeders()
    out = redispatch(net, Fleet.from_network(net), SwitchingAction((("brk2", False),)))
    assert out.de_energised_ders == ("pv2",)
    assert not out.fleet.online[out.fleet.ids.index("pv2")]
    assert all(c.der_id != "pv2" for c in (*out.plan.controls, *out.heuristic.controls))
    assert out.network.switches[1].closed is False
    assert out.linearise_s > 0.0


@pytest.mark.slow
def test_unplanned_noon_feeder_transfer_camden(camden: Twin) -> None:
    """Open F1's head breaker and close the F7-F1 tie at noon: F1 rides on F7's end."""
    feeder = camden.feeders[0]
    tie = next(t.switch for t in camden.ties if {t.feeder_a, t.feeder_b} == {"F1", "F7"})
    assert feeder.head_breaker == "F1_CB"
    model = PgmModel.from_network(camden.network)
    normal = detect_violations(model.solve(error_tolerance=1e-6), camden.network)
    out = redispatch(model, Fleet.from_network(camden.network), SwitchingAction.transfer(
        feeder.head_breaker, tie))  # fmt: skip
    plan = out.plan
    over = [v for v in plan.violations_before if v.kind == "overvoltage"]
    assert len(over) > 5 * len([v for v in normal if v.kind == "overvoltage"]), describe(plan)
    check = out.model.solve(
        der_p_kw=plan.der_p_kw, der_q_kvar=plan.der_q_kvar, error_tolerance=1e-6
    )
    after = detect_violations(check, out.network)
    # all that is left: service transformers overloaded by their own load with no DER behind
    # them, overloaded already before the switching (planning, not dispatch, fixes those)
    assert {v.key for v in after} == {v.key for v in plan.outside_control}, describe(plan, after)
    assert all(v.kind == "thermal" for v in after)
    assert {v.key for v in after} <= {v.key for v in normal}
    assert plan.actionable_ac_violations == ()
    assert len(plan.controls) > 100
    assert all(c.reason and c.constraint for c in plan.controls)
    assert out.heuristic.method == "heuristic"
    assert all(v.key in {o.key for o in plan.outside_control}
               for v in out.heuristic.predicted_violations)  # fmt: skip


@pytest.mark.slow
def test_planned_peak_section_transfer_camden(camden: Twin) -> None:
    """Evening peak: move F1's outer section (beyond F1_SEC2) across the F7-F1 tie."""
    net = camden.network_at(camden.evening_peak_step)
    feeder = camden.feeders[0]
    tie = next(t.switch for t in camden.ties if {t.feeder_a, t.feeder_b} == {"F1", "F7"})
    start = camden.timestamps[camden.evening_peak_step]
    end = start + timedelta(hours=2)
    action = SwitchingAction.transfer(
        feeder.sectionalisers[-1], tie, planned=True, start=start, end=end
    )
    out = redispatch(PgmModel.from_network(net), Fleet.from_network(net), action)
    plan = out.plan
    under = [v for v in plan.violations_before if v.kind == "undervoltage"]
    assert len(under) >= 50, describe(plan)
    check = out.model.solve(
        der_p_kw=plan.der_p_kw, der_q_kvar=plan.der_q_kvar, error_tolerance=1e-6
    )
    after = detect_violations(check, out.network)
    assert after == (), describe(plan, after)
    assert plan.ac_violations == ()
    assert plan.curtailed_kw == 0.0  # evening: batteries and EV chargers do it
    assert plan.shifted_kw > 0.0
    assert all(c.start == start and c.expiry == end for c in plan.controls)
    assert start.tzinfo is not None  # UTC-aware, as every time inside
