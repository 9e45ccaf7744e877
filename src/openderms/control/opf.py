"""Tier 2 dispatch: the AC-calibrated LinDistFlow OPF, checked and re-linearised with AC.

``dispatch_opf`` runs:

1. one AC power flow at the fleet's present output (the linearisation point), unless given;
2. the LP of ``lp.py`` (HiGHS) over every dispatchable resource, watching the buses and
   branches within ``options.band`` of a limit, aiming ``options.margins`` inside them;
3. an AC power flow with the plan applied; if it still shows a violation, that result becomes
   the new linearisation point (offsets re-calibrated, newly close constraints added) and the
   LP is solved again, up to ``options.max_iterations`` times.

Branches overloaded with no dispatchable DER behind them (a service transformer overloaded by
its own load, say) are outside what DER can do: they are reported in the plan's notes and in
``ControlPlan.outside_control``, never handed to the LP. Each control's reason names the
binding constraint with the largest shadow price times sensitivity for its resource.
Signs: generator convention (positive = export); ``substation_p_kw`` positive = import.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import numpy as np

from openderms.control.explain import explain
from openderms.control.linear import LinearGrid, OperatingPoint
from openderms.control.lp import LpModel
from openderms.control.lp_types import LpInput
from openderms.control.options import DispatchOptions
from openderms.control.plan import build_controls, check_alignment, totals
from openderms.control.resources import Resources
from openderms.control.types import (
    ControlPlan,
    Fleet,
    FloatArray,
    IntArray,
    NetLoadLimits,
    Violation,
    sum_by,
)
from openderms.control.violations import Margins, detect_from_arrays
from openderms.grid.engines.pgm_model import PgmModel
from openderms.grid.model import Network
from openderms.grid.powerflow import PowerFlowResult

#: an AC power flow of the network with DER set points (p, q per DER, generator convention)
AcSolve = Callable[[FloatArray, FloatArray], PowerFlowResult]


def pgm_ac(model: PgmModel, *, regulate: bool = True, tolerance_pu: float = 1e-6) -> AcSolve:
    """The AC check on a converted power-grid-model network (loads as in the model); DER set
    points in generator convention (positive = export).

    ``tolerance_pu``: Newton-Raphson tolerance; 1e-6 pu is far below every margin here, and
    PGM's default 1e-8 can stall on a 4,000-bus feeder.
    """

    def solve(der_p_kw: FloatArray, der_q_kvar: FloatArray) -> PowerFlowResult:
        return model.solve(
            der_p_kw=der_p_kw,
            der_q_kvar=der_q_kvar,
            regulate=regulate,
            error_tolerance=tolerance_pu,
        )

    return solve


def dispatch_opf(
    net: Network,
    fleet: Fleet,
    lg: LinearGrid,
    ac: AcSolve,
    limits: NetLoadLimits | None = None,
    *,
    when: datetime | None = None,
    options: DispatchOptions | None = None,
    base: PowerFlowResult | None = None,
    start: datetime | None = None,
    expiry: datetime | None = None,
) -> ControlPlan:
    """Least-cost plan that the AC power flow ``ac`` shows free of violations.

    ``fleet`` follows ``net.ders``; ``lg`` is ``LinearGrid.build(net)`` for these switch states;
    ``base`` is an AC result with the fleet at its present output (solved here if None).
    Powers in generator convention (positive = export; negative vars absorb);
    ``substation_p_kw`` positive = import.
    ``phase_s`` of the plan times: the base AC flow, setup, LP build, LP solve, AC checks.
    """
    t0 = time.perf_counter()
    opt = options or DispatchOptions()
    check_alignment(fleet, [d.id for d in net.ders])
    phase = dict.fromkeys(("ac_base", "setup", "lp_build", "lp_solve", "ac_check", "plan"), 0.0)
    if base is None:
        base = ac(fleet.p_present_kw, fleet.q_present_kvar)
        phase["ac_base"] = time.perf_counter() - t0
    t = time.perf_counter()
    res = Resources.for_dispatch(fleet, lg.der_col, lg.n_cols, opt)
    imp, rev = limits.at(when) if limits else (None, None)
    op = start_op = OperatingPoint.from_result(lg, net, base)
    before = _violations(lg, op, limits, when)
    reach = _reachable_branches(lg, res, op)
    phase["setup"] = time.perf_counter() - t
    at_reference = not (np.any(res.p_offset_kw) or np.any(res.q_offset_kvar))
    if not before and at_reference:  # nothing to relieve and no control in force
        return _no_plan(fleet, t0, phase)

    live = np.flatnonzero(lg.topology.energised)  # the whole tree: re-linearising never rebuilds
    branches = _monitored(op, opt.band, reach)
    has_sub = imp is not None or rev is not None
    model = LpModel(lg, res, live, branches, op, substation=has_sub)
    phase["lp_build"] += model.build_s
    inp = LpInput(op, -res.p_offset_kw, -res.q_offset_kvar, imp, rev, opt.margins)
    iterations, after = 0, before
    while True:
        iterations += 1
        model.set_point(inp)
        lp = model.solve()
        if lp.status != "Optimal":  # the DER cannot clear everything: best effort
            t = time.perf_counter()
            model = LpModel(lg, res, live, branches, inp.op, substation=has_sub, elastic=True)
            model.set_point(inp)
            phase["lp_build"] += time.perf_counter() - t
            lp = model.solve()
        phase["lp_solve"] += lp.solve_s
        p_kw, q_kvar = res.disaggregate(fleet, lp.dn_kw, lp.up_kw, lp.q_kvar)
        t = time.perf_counter()
        op = OperatingPoint.from_result(lg, net, ac(p_kw, q_kvar))
        after = _violations(lg, op, limits, when)
        phase["ac_check"] += time.perf_counter() - t
        if lp.elastic or iterations >= opt.max_iterations or not _actionable(after, reach, op):
            break
        t = time.perf_counter()  # re-linearise at this AC point, watch what came close
        m_it = sum_by(res.col, lp.up_kw - lp.dn_kw, lg.n_cols)
        q_it = sum_by(res.col, lp.q_kvar - res.q_ref_kvar, lg.n_cols)
        inp = LpInput(op, m_it, q_it, imp, rev, opt.margins)
        branches = np.union1d(branches, _monitored(op, opt.band, reach))
        model.add_branches(branches, op)
        phase["lp_build"] += time.perf_counter() - t
    t = time.perf_counter()
    reasons = explain(lg, res, lp, inp.op, start_op)
    controls = build_controls(
        fleet, res, p_kw, q_kvar, reasons, tolerance_kw=opt.tolerance_kw, start=start, expiry=expiry
    )
    n = lg.n_cols
    pred = inp.op.predict(
        lg,
        sum_by(res.col, lp.up_kw - lp.dn_kw, n) - inp.m_it_col_kw,
        sum_by(res.col, lp.q_kvar - res.q_ref_kvar, n) - inp.q_it_col_kvar,
    )
    predicted = detect_from_arrays(
        lg.topology.bus_ids, pred.voltages, op.result.branch_ids, pred.loading_pct,
        pred.substation_p_kw, limits=limits, when=when,
    )  # fmt: skip
    outside = _outside(after, reach, op)
    notes = tuple(f"outside DER control: {v} (no dispatchable DER behind it)" for v in outside)
    if lp.elastic:
        notes += (f"not enough flexibility: the LP needed slack {lp.slack:.4g} to finish",)
    curtailed, shifted, q_used = totals(fleet, p_kw, q_kvar)
    phase["plan"] = time.perf_counter() - t
    return ControlPlan(
        controls=controls,
        method="opf",
        solve_s=time.perf_counter() - t0,
        phase_s=phase,
        iterations=iterations,
        violations_before=before,
        predicted_violations=predicted,
        ac_violations=after,
        der_p_kw=p_kw,
        der_q_kvar=q_kvar,
        curtailed_kw=curtailed,
        shifted_kw=shifted,
        q_used_kvar=q_used,
        objective=lp.objective,
        notes=notes,
        outside_control=outside,
    )


def _no_plan(fleet: Fleet, t0: float, phase: dict[str, float]) -> ControlPlan:
    return ControlPlan(
        controls=(), method="opf", solve_s=time.perf_counter() - t0, phase_s=phase,
        iterations=0, violations_before=(), predicted_violations=(), ac_violations=(),
        der_p_kw=fleet.p_present_kw.copy(), der_q_kvar=fleet.q_present_kvar.copy(),
        curtailed_kw=0.0, shifted_kw=0.0, q_used_kvar=0.0,
    )  # fmt: skip


def _violations(
    lg: LinearGrid, op: OperatingPoint, limits: NetLoadLimits | None, when: datetime | None
) -> tuple[Violation, ...]:
    r = op.result
    return detect_from_arrays(
        lg.topology.bus_ids, op.voltages, r.branch_ids, r.loading_pct, r.substation_p_kw,
        limits=limits, when=when,
    )  # fmt: skip


def _reachable_branches(lg: LinearGrid, res: Resources, op: OperatingPoint) -> np.ndarray:
    """Per tree branch of ``op``: whether any dispatchable resource sits behind it."""
    cap = sum_by(res.col, res.dn_max_kw + res.up_max_kw, lg.n_cols)
    reach: np.ndarray = lg.subtree_sum(cap)[op.branch_bus] > 1e-6
    return reach


def _monitored(op: OperatingPoint, band: Margins, reach: np.ndarray) -> IntArray:
    """Tree branches near their rating (within ``band``) that dispatchable DER reach."""
    return np.flatnonzero((op.loading_pct > 100.0 - band.loading_pct) & reach)


def _outside(
    after: tuple[Violation, ...], reach: np.ndarray, op: OperatingPoint
) -> tuple[Violation, ...]:
    """Thermal violations on branches no dispatchable DER sits behind."""
    ids = op.result.branch_ids
    reachable = {ids[int(i)] for i in op.branch_index[reach]}
    return tuple(v for v in after if v.kind == "thermal" and v.element_id not in reachable)


def _actionable(after: tuple[Violation, ...], reach: np.ndarray, op: OperatingPoint) -> bool:
    outside = {v.key for v in _outside(after, reach, op)}
    return any(v.key not in outside for v in after)
