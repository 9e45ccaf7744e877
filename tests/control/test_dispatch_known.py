"""Dispatch cases with known optima on the two-section feeder (``nets.feeder``).

The LP's objective is checked against a hand calculation from the LinDistFlow weights of
``nets`` (``R`` pu per kW and ``X`` pu per kvar per section): ``pvB`` at the far bus raises it
by ``2R`` per kW, ``pvA`` by ``R``, so the LP curtails ``pvB`` first, unless priorities say
otherwise; vars come before curtailment; storage moves before generation is lost.
"""

from __future__ import annotations

import numpy as np
import pytest

from openderms.control import (
    DispatchOptions,
    Fleet,
    LinearGrid,
    NetLoadLimits,
    OperatingPoint,
    Priority,
    dispatch_heuristic,
    dispatch_opf,
    pgm_ac,
)
from openderms.control.lp import LpModel
from openderms.control.lp_types import LpInput, LpResult
from openderms.control.resources import Resources
from openderms.grid.engines.pgm_model import PgmModel
from openderms.grid.model import Network
from tests.control.nets import R_PU_PER_KW, X_PU_PER_KVAR, feeder

ACTIVE_ONLY = DispatchOptions(use_reactive=False)


def _first_lp(
    net: Network, fleet: Fleet, opt: DispatchOptions, limits: NetLoadLimits | None = None
) -> tuple[OperatingPoint, LpResult]:
    """The OPF's first LP (one resource per DER, in fleet order), at the AC point of ``net``."""
    lg = LinearGrid.build(net)
    op = OperatingPoint.from_result(lg, net, PgmModel.from_network(net).solve())
    res = Resources.build(
        fleet, lg.der_col, lg.n_cols, opt.costs, per_der=True, reactive=opt.use_reactive
    )
    imp, rev = limits.at(None) if limits else (None, None)
    model = LpModel(
        lg, res, np.flatnonzero(lg.topology.energised), np.empty(0, dtype=np.int64), op,
        substation=limits is not None,
    )  # fmt: skip
    model.set_point(LpInput(op, -res.p_offset_kw, -res.q_offset_kvar, imp, rev, opt.margins))
    return op, model.solve()


def _need_pu(op: OperatingPoint, net: Network, opt: DispatchOptions) -> float:
    """How far ``b2`` must come down: AC voltage minus (limit minus margin)."""
    b2 = [b.id for b in net.buses].index("b2")
    return float(op.voltages.v_max_pu[b2] - (1.05 - opt.margins.v_pu))


def test_lp_curtails_the_more_effective_der_and_matches_the_hand_optimum() -> None:
    net = feeder()
    fleet = Fleet.from_network(net)
    op, lp = _first_lp(net, fleet, ACTIVE_ONLY)
    need = _need_pu(op, net, ACTIVE_ONLY)
    assert need > 0
    expected_kw = need / (2 * R_PU_PER_KW)  # only pvB, at the far bus
    assert lp.status == "Optimal"
    assert lp.dn_kw[0] == pytest.approx(0.0, abs=1e-6)  # pvA untouched
    assert lp.dn_kw[1] == pytest.approx(expected_kw, rel=1e-6)
    assert lp.objective == pytest.approx(expected_kw * 1.0, rel=1e-6)  # curtail weight 1


def test_lp_respects_priorities_market_der_is_curtailed_last() -> None:
    net = feeder()
    fleet = Fleet.from_network(net, priority={"pvB": Priority.MARKET})
    op, lp = _first_lp(net, fleet, ACTIVE_ONLY)
    need = _need_pu(op, net, ACTIVE_ONLY)
    # pvA (weight 1) first, all 1,000 kW of it (R each), then pvB (weight 100, 2R each)
    a_kw = 1000.0
    b_kw = (need - a_kw * R_PU_PER_KW) / (2 * R_PU_PER_KW)
    assert b_kw > 0
    assert lp.dn_kw[0] == pytest.approx(a_kw, rel=1e-6)
    assert lp.dn_kw[1] == pytest.approx(b_kw, rel=1e-6)
    assert lp.objective == pytest.approx(a_kw * 1.0 + b_kw * 100.0, rel=1e-6)


def test_lp_uses_vars_before_curtailment() -> None:
    net = feeder(s_b_kva=2500.0)  # 1,500 kvar left at 2,000 kW
    fleet = Fleet.from_network(net)
    opt = DispatchOptions()
    op, lp = _first_lp(net, fleet, opt)
    need = _need_pu(op, net, opt)
    q_kvar = need / (2 * X_PU_PER_KVAR)
    assert q_kvar < 1500.0
    assert np.allclose(lp.dn_kw, 0.0, atol=1e-6)
    assert lp.q_kvar[1] == pytest.approx(-q_kvar, rel=1e-6)  # absorbed at pvB
    assert lp.objective == pytest.approx(opt.costs.q_per_kvar * q_kvar, rel=1e-6)


def test_lp_shifts_storage_before_curtailing_for_a_reverse_flow_limit() -> None:
    net = feeder(source_v_pu=1.0, battery_b_kw=500.0)  # voltages fine, reverse flow high
    fleet = Fleet.from_network(net)
    opt = DispatchOptions()
    limits = NetLoadLimits(reverse_flow_max_kw=2500.0)
    op, lp = _first_lp(net, fleet, opt, limits)
    need_kw = -op.result.substation_p_kw - (2500.0 - opt.margins.p_kw)
    assert 0 < need_kw < 500.0
    assert np.allclose(lp.dn_kw[:2], 0.0, atol=1e-6)  # no PV lost
    assert lp.dn_kw[2] == pytest.approx(need_kw, rel=1e-6)  # the battery charges
    assert lp.objective == pytest.approx(opt.costs.shift_per_kw * need_kw, rel=1e-6)


def test_opf_ends_ac_feasible_and_explains_every_control() -> None:
    net = feeder()
    fleet = Fleet.from_network(net)
    plan = dispatch_opf(net, fleet, LinearGrid.build(net), pgm_ac(PgmModel.from_network(net)))
    assert [v.key for v in plan.violations_before] == ["overvoltage:b2"]
    assert plan.ac_violations == ()
    assert plan.ac_feasible
    assert [c.der_id for c in plan.controls] == ["pvB"]
    control = plan.controls[0]
    assert control.p_max_kw is not None
    assert control.p_max_kw < 2000.0
    assert control.reason.startswith("overvoltage at b2 (AC ")
    assert "dV/dP" in control.reason
    assert control.constraint == "overvoltage:b2"
    assert plan.curtailed_kw == pytest.approx(2000.0 - control.p_max_kw, abs=1e-3)
    assert plan.iterations >= 1
    assert set(plan.phase_s) >= {"lp_build", "lp_solve", "ac_check"}


def test_heuristic_curtails_the_most_effective_first_and_clears_the_prediction() -> None:
    net = feeder()
    fleet = Fleet.from_network(net)
    model = PgmModel.from_network(net)
    base = model.solve()
    plan = dispatch_heuristic(net, fleet, base, LinearGrid.build(net), options=ACTIVE_ONLY)
    assert plan.predicted_violations == ()
    assert [c.der_id for c in plan.controls] == ["pvB"]
    assert "dV/dP" in plan.controls[0].reason
    after = model.solve(der_p_kw=plan.der_p_kw, der_q_kvar=plan.der_q_kvar)
    assert max(after.bus_v_range_pu()["b2"]) < 1.05


def test_heuristic_reactive_first_and_market_last() -> None:
    net = feeder(s_b_kva=2500.0)
    fleet = Fleet.from_network(net, priority={"pvB": Priority.MARKET})
    base = PgmModel.from_network(net).solve()
    plan = dispatch_heuristic(net, fleet, base, LinearGrid.build(net))
    assert plan.curtailed_kw == 0.0  # vars were enough
    (control,) = plan.controls
    assert control.der_id == "pvB"
    assert control.q_kvar is not None
    assert control.q_kvar < 0
    assert "dV/dQ" in control.reason
    # without vars, pvA (no program) is curtailed before pvB (market schedule)
    active = dispatch_heuristic(net, fleet, base, LinearGrid.build(net), options=ACTIVE_ONLY)
    moved = {c.der_id: c.p_max_kw for c in active.controls}
    assert moved["pvA"] == pytest.approx(0.0, abs=1e-6)  # all of pvA first
    assert "pvB" in moved  # then the market DER, as little as needed


@pytest.mark.parametrize("tier", ["heuristic", "opf"])
def test_no_control_when_no_violation(tier: str) -> None:
    net = feeder(source_v_pu=1.0)
    fleet = Fleet.from_network(net)
    model = PgmModel.from_network(net)
    lg = LinearGrid.build(net)
    if tier == "heuristic":
        plan = dispatch_heuristic(net, fleet, model.solve(), lg)
    else:
        plan = dispatch_opf(net, fleet, lg, pgm_ac(model))
    assert plan.violations_before == ()
    assert plan.controls == ()
    assert plan.curtailed_kw == plan.shifted_kw == plan.q_used_kvar == 0.0
