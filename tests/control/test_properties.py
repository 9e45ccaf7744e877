"""Invariants of both dispatch tiers, for any fleet (hypothesis).

Whatever the decisions, every DER stays inside what it can do: export between its lowest and
highest possible output (PV never above its available power: curtailment is never negative),
``p^2 + q^2 <= s^2``; and with no violation there is no control. Generator convention.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openderms.control import (
    ControlPlan,
    DispatchOptions,
    Fleet,
    LinearGrid,
    dispatch_heuristic,
    dispatch_opf,
    pgm_ac,
)
from openderms.control.options import CostWeights
from openderms.control.resources import Resources
from openderms.grid.engines.pgm_model import PgmModel
from tests.control.nets import feeder

KINDS = ("pv", "battery", "ev_charger")
TOL = 1e-6


@st.composite
def fleets(draw: st.DrawFn) -> tuple[Fleet, np.ndarray]:
    """A fleet of 1-25 DER on 1-5 injection columns, with consistent limits."""
    n = draw(st.integers(1, 25))
    kind = tuple(draw(st.sampled_from(KINDS)) for _ in range(n))
    s_kva = np.array([draw(st.floats(1.0, 500.0)) for _ in range(n)])
    share = np.array([draw(st.floats(0.0, 1.0)) for _ in range(n)])
    p_max = np.where([k == "ev_charger" for k in kind], 0.0, s_kva)
    p_min = np.where([k == "pv" for k in kind], 0.0, -s_kva)
    p_ref = p_min + share * (p_max - p_min)
    p_max = np.where([k == "pv" for k in kind], p_ref, p_max)  # PV: its available power
    n_cols = draw(st.integers(1, 5))
    cols = np.array([draw(st.integers(0, n_cols - 1)) for _ in range(n)])
    fleet = Fleet(
        ids=tuple(f"d{i}" for i in range(n)),
        bus=tuple(f"b{c}" for c in cols),
        kind=kind,
        p_kw=p_ref,
        p_max_kw=p_max,
        p_min_kw=p_min,
        s_kva=s_kva,
        q_kvar=np.zeros(n),
        controllable=np.array([draw(st.booleans()) or i == 0 for i in range(n)]),
        online=np.ones(n, dtype=bool),
        priority=np.array([draw(st.integers(0, 2)) for _ in range(n)]),
        p_present_kw=p_ref.copy(),
        q_present_kvar=np.zeros(n),
    )
    return fleet, cols


def assert_inside_capability(fleet: Fleet, p_kw: np.ndarray, q_kvar: np.ndarray) -> None:
    assert np.all(p_kw >= fleet.p_min_kw - TOL)
    assert np.all(p_kw <= fleet.p_max_kw + TOL)
    pv = np.array([k == "pv" for k in fleet.kind])
    assert np.all(p_kw[pv] <= fleet.p_kw[pv] + TOL)  # curtailment >= 0
    assert np.all(p_kw**2 + q_kvar**2 <= fleet.s_kva**2 * (1 + 1e-9) + TOL)


@settings(max_examples=200, deadline=None)
@given(fleets(), st.data())
def test_any_resource_decision_splits_into_feasible_der_set_points(
    case: tuple[Fleet, np.ndarray], data: st.DataObject
) -> None:
    fleet, cols = case
    res = Resources.build(fleet, cols, int(cols.max()) + 1, CostWeights())
    n = len(res)
    frac = np.array([data.draw(st.floats(0.0, 1.0)) for _ in range(3 * n)]).reshape(3, n)
    dn = frac[0] * res.dn_max_kw
    up = frac[1] * res.up_max_kw
    q = (2 * frac[2] - 1) * res.q_cap_kvar(dn)
    p_kw, q_kvar = res.disaggregate(fleet, dn, up, q)
    assert_inside_capability(fleet, p_kw, q_kvar)
    fixed = res.der_res < 0
    assert np.array_equal(p_kw[fixed], fleet.p_present_kw[fixed])  # uncontrollable stay put


def _plans(pv_a_kw: float, pv_b_kw: float, s_b_kva: float, bat_kw: float, v_pu: float) -> tuple[
    Fleet, tuple[ControlPlan, ControlPlan]
]:  # fmt: skip
    net = feeder(
        pv_a_kw=pv_a_kw, pv_b_kw=pv_b_kw, s_b_kva=s_b_kva, battery_b_kw=bat_kw, source_v_pu=v_pu
    )
    fleet = Fleet.from_network(net)
    model = PgmModel.from_network(net)
    lg = LinearGrid.build(net)
    base = model.solve()
    opt = DispatchOptions()
    return fleet, (
        dispatch_heuristic(net, fleet, base, lg, options=opt),
        dispatch_opf(net, fleet, lg, pgm_ac(model), options=opt, base=base),
    )


@settings(max_examples=25, deadline=None)
@given(
    pv_a_kw=st.floats(0.0, 1500.0),
    pv_b_kw=st.floats(0.0, 2500.0),
    s_extra=st.floats(1.0, 1.5),
    bat_kw=st.floats(1.0, 800.0),
    v_pu=st.floats(0.98, 1.045),
)
def test_both_tiers_stay_inside_every_der_capability(
    pv_a_kw: float, pv_b_kw: float, s_extra: float, bat_kw: float, v_pu: float
) -> None:
    fleet, plans = _plans(pv_a_kw, pv_b_kw, max(pv_b_kw, 1.0) * s_extra, bat_kw, v_pu)
    for plan in plans:
        assert_inside_capability(fleet, plan.der_p_kw, plan.der_q_kvar)
        assert plan.curtailed_kw >= 0.0
        if not plan.violations_before:
            assert plan.controls == ()
        for control in plan.controls:
            assert control.reason
            assert control.constraint.split(":")[0] in {v.kind for v in plan.violations_before}


@pytest.mark.parametrize("v_pu", [0.99, 1.0, 1.01])
def test_no_violation_no_control(v_pu: float) -> None:
    _, plans = _plans(300.0, 300.0, 400.0, 50.0, v_pu)
    for plan in plans:
        assert plan.violations_before == ()
        assert plan.controls == ()
