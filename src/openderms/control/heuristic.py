"""Tier 1 dispatch: a sensitivity-based greedy that answers in milliseconds.

From one AC power flow (the operating point) and the topology's LinDistFlow model
(``LinearGrid``, built once per switch state and kept by the caller), it repeats:

1. predict every bus voltage, tree-branch loading and the substation flow linearly from the
   moves made so far (AC-calibrated: the AC result plus the linear change);
2. take the worst remaining violation (each aimed at its limit minus ``options.margins``);
3. for a voltage violation, first reactive power: vars absorbed (overvoltage) or injected
   (undervoltage) by the resources with the largest ``dV/dQ``, within each inverter's
   ``s_kva`` circle;
4. then active power, cheapest relief first: cost per unit of relief is the resource's weight
   (program priority, generation or storage) over its sensitivity (``dV/dP``, the branch's
   loading per kW behind it, or 1 kW per kW for the substation), so DER under a market
   schedule move last and storage is shifted before generation is curtailed;
5. stop when the prediction clears every violation, or when nothing left can relieve one.

Every moved resource keeps the first constraint it moved for and the sensitivity used: that
is each control's reason. Signs: generator convention (positive = export).
"""

from __future__ import annotations

import time
from datetime import datetime

import numpy as np

from openderms.control.linear import LinearGrid, OperatingPoint, Prediction
from openderms.control.options import DispatchOptions
from openderms.control.plan import Reason, build_controls, check_alignment, totals
from openderms.control.resources import Resources
from openderms.control.types import (
    ControlPlan,
    Fleet,
    FloatArray,
    IntArray,
    NetLoadLimits,
    ViolationKind,
    sum_by,
)
from openderms.control.violations import detect_from_arrays
from openderms.grid.model import Network
from openderms.grid.powerflow import PowerFlowResult

_OVERSHOOT = 1.02  # each move aims a little past the need, so the greedy does not creep


def dispatch_heuristic(
    net: Network,
    fleet: Fleet,
    base: PowerFlowResult,
    lg: LinearGrid,
    limits: NetLoadLimits | None = None,
    *,
    when: datetime | None = None,
    options: DispatchOptions | None = None,
    start: datetime | None = None,
    expiry: datetime | None = None,
) -> ControlPlan:
    """Greedy plan clearing the violations of ``base`` (an AC power flow of ``net`` with the
    fleet at its present output) by the linear prediction, with ``options.margins`` to spare.

    ``fleet`` follows ``net.ders``; ``lg`` is ``LinearGrid.build(net)`` for these switch states.
    Powers in generator convention (positive = export; negative vars absorb); the plan's
    ``der_p_kw``/``der_q_kvar`` are every DER's set point in fleet order.
    """
    t0 = time.perf_counter()
    opt = options or DispatchOptions()
    check_alignment(fleet, [d.id for d in net.ders])
    op = OperatingPoint.from_result(lg, net, base)
    bus_ids = lg.topology.bus_ids
    before = detect_from_arrays(
        bus_ids, op.voltages, base.branch_ids, base.loading_pct, base.substation_p_kw,
        limits=limits, when=when,
    )  # fmt: skip
    res = Resources.for_dispatch(fleet, lg.der_col, lg.n_cols, opt)
    greedy = _Greedy(lg, op, res, limits, when=when, opt=opt)
    t_setup = time.perf_counter()
    steps = greedy.run() if before or np.any(res.p_offset_kw) or np.any(res.q_offset_kvar) else 0
    t_greedy = time.perf_counter()
    p_kw, q_kvar = res.disaggregate(fleet, *greedy.decisions())
    pred = greedy.predict()
    predicted = detect_from_arrays(
        bus_ids, pred.voltages, base.branch_ids, pred.loading_pct, pred.substation_p_kw,
        limits=limits, when=when,
    )  # fmt: skip
    controls = build_controls(
        fleet,
        res,
        p_kw,
        q_kvar,
        greedy.reasons,
        tolerance_kw=opt.tolerance_kw,
        start=start,
        expiry=expiry,
    )
    curtailed, shifted, q_used = totals(fleet, p_kw, q_kvar)
    t_end = time.perf_counter()
    return ControlPlan(
        controls=controls,
        method="heuristic",
        solve_s=t_end - t0,
        phase_s={"setup": t_setup - t0, "greedy": t_greedy - t_setup, "plan": t_end - t_greedy},
        iterations=steps,
        violations_before=before,
        predicted_violations=predicted,
        ac_violations=None,
        der_p_kw=p_kw,
        der_q_kvar=q_kvar,
        curtailed_kw=curtailed,
        shifted_kw=shifted,
        q_used_kvar=q_used,
    )


class _Greedy:
    """The greedy's state: export moves ``m`` and vars ``q`` per resource, from the reference."""

    def __init__(
        self,
        lg: LinearGrid,
        op: OperatingPoint,
        res: Resources,
        limits: NetLoadLimits | None,
        *,
        when: datetime | None,
        opt: DispatchOptions,
    ) -> None:
        self.lg, self.op, self.res, self.opt = lg, op, res, opt
        self.import_max, self.reverse_max = limits.at(when) if limits else (None, None)
        self.m = np.zeros(len(res))  # export change from the reference, kW
        self.q = res.q_ref_kvar.copy()  # vars of each resource, kvar
        # vars are also held within the headroom of the branch feeding each resource's bus
        qmax = res.q_cap_kvar(res.dn_max_kw)
        inj, ab = op.var_headroom_kvar(lg, 100.0 - opt.margins.loading_pct, opt.margins.v_pu)
        total = sum_by(res.col, qmax, lg.n_cols)[res.col]
        share = qmax / np.where(total > 0, total, 1.0)
        self.q_inj_room = np.where(np.isfinite(inj[res.col]), share * inj[res.col], np.inf)
        self.q_abs_room = np.where(np.isfinite(ab[res.col]), share * ab[res.col], np.inf)
        self.reasons: list[Reason | None] = [None] * len(res)
        self.blocked: dict[ViolationKind, list[int]] = {}

    def decisions(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        return np.maximum(-self.m, 0.0), np.maximum(self.m, 0.0), self.q

    def _dp(self) -> FloatArray:
        res = self.res
        return sum_by(res.col, self.m, self.lg.n_cols) + res.p_offset_kw

    def _dq(self) -> FloatArray:
        res = self.res
        dq = sum_by(res.col, self.q - res.q_ref_kvar, self.lg.n_cols)
        return dq + res.q_offset_kvar

    def predict(self) -> Prediction:
        return self.op.predict(self.lg, self._dp(), self._dq())

    def run(self) -> int:
        """Relieve the worst violation, predict again, repeat; a violation nothing more can
        relieve is set aside (the prediction is only redone when something moved)."""
        pred = self.predict()
        for step in range(self.opt.max_heuristic_steps):
            worst = self._worst(pred)
            if worst is None:
                return step
            kind, index, need = worst
            a, b, state = self._sensitivity(kind, index)
            relief = 0.0
            if kind in ("overvoltage", "undervoltage") and self.opt.use_reactive:
                relief = self._move(b, need, (kind, index, state), reactive=True)
            if need - relief > 0:
                active = self._move(a, need - relief, (kind, index, state), reactive=False)
                if active < need - relief:
                    self.blocked.setdefault(kind, []).append(index)
                relief += active
            if relief > 0:
                pred = self.predict()
        return self.opt.max_heuristic_steps

    def _worst(self, pred: Prediction) -> tuple[ViolationKind, int, float] | None:
        """The worst violation still open: (kind, index, excess in its own unit)."""
        m, v = self.opt.margins, pred.voltages
        best: tuple[float, ViolationKind, int, float] | None = None
        with np.errstate(invalid="ignore"):
            over = np.nan_to_num(v.v_max_pu - (v.limit_max_pu - m.v_pu), nan=-1.0)
            under = np.nan_to_num((v.limit_min_pu + m.v_pu) - v.v_min_pu, nan=-1.0)
        thermal = pred.loading_pct[self.op.branch_index] - (100.0 - m.loading_pct)
        rows: tuple[tuple[ViolationKind, FloatArray, float], ...] = (
            ("overvoltage", over, 0.01),
            ("undervoltage", under, 0.01),
            ("thermal", thermal, 10.0),
        )
        for kind, arr, scale in rows:
            arr[self.blocked.get(kind, [])] = -np.inf
            k = int(np.argmax(arr))
            if arr[k] > 0 and (best is None or arr[k] / scale > best[0]):
                best = (float(arr[k]) / scale, kind, k, float(arr[k]))
        sub: tuple[tuple[ViolationKind, float | None, float], ...] = (
            ("net_load_import", self.import_max, pred.substation_p_kw),
            ("reverse_flow", self.reverse_max, -pred.substation_p_kw),
        )
        for kind, limit, value in sub:
            if limit is None or kind in self.blocked:
                continue
            excess = value - (limit - m.p_kw)
            score = excess / max(0.02 * abs(limit), 50.0)
            if excess > 0 and (best is None or score > best[0]):
                best = (score, kind, 0, excess)
        return None if best is None else best[1:]

    def _sensitivity(self, kind: ViolationKind, k: int) -> tuple[FloatArray, FloatArray, str]:
        """Per column: how the violated quantity moves per kW / kvar exported; its state."""
        lg, op, n = self.lg, self.op, self.lg.n_cols
        if kind in ("overvoltage", "undervoltage"):
            dp, dq = lg.voltage_rows(np.array([k]))
            over = kind == "overvoltage"
            v = op.voltages.v_max_pu[k] if over else op.voltages.v_min_pu[k]
            lim = op.voltages.limit_max_pu[k] if over else op.voltages.limit_min_pu[k]
            sign = 1.0 if over else -1.0
            return sign * dp[0], sign * dq[0], f"AC {v:.4f} pu, limit {lim:.3f} pu"
        if kind == "thermal":
            bus = int(op.branch_bus[k])
            start, end = lg.col_range(bus)
            p1 = op.p_down_kw[k] - lg.subtree_sum(self._dp())[bus]
            q1 = op.q_down_kvar[k] - lg.subtree_sum(self._dq())[bus]
            s0 = max(float(np.hypot(op.p_down_kw[k], op.q_down_kvar[k])), 1e-9)
            s1 = max(float(np.hypot(p1, q1)), 1e-9)
            scale = float(op.loading_pct[k]) / s0
            a, b = np.zeros(n), np.zeros(n)
            a[start:end] = -scale * p1 / s1  # exporting behind it lowers the flow away
            b[start:end] = -scale * q1 / s1
            return a, b, f"AC {op.loading_pct[k]:.1f} % of rating"
        sign = -1.0 if kind == "net_load_import" else 1.0
        p = op.result.substation_p_kw
        return np.full(n, sign), np.zeros(n), f"AC {p:.0f} kW, positive = import"

    def _move(
        self, sens: FloatArray, need: float, why: tuple[ViolationKind, int, str], *, reactive: bool
    ) -> float:
        """Move vars (most effective first) or export (cheapest relief first) until ``need``
        is met; returns the relief obtained (in the violated quantity's unit)."""
        res = self.res
        eff = sens[res.col]
        if reactive:
            cap = res.q_cap_kvar(np.maximum(-self.m, 0.0))
            low = -np.minimum(cap, self.q_abs_room)
            high = np.minimum(cap, self.q_inj_room)
            avail = np.maximum(np.where(eff > 0, self.q - low, high - self.q), 0.0)
            cost = 1.0 / np.maximum(np.abs(eff), 1e-300)
        else:
            avail = np.where(eff > 0, self.m + res.dn_max_kw, res.up_max_kw - self.m)
            cost = np.where(eff > 0, res.w_dn, res.w_up) / np.maximum(np.abs(eff), 1e-300)
        floor = self.opt.min_effectiveness * float(np.max(np.abs(eff), initial=0.0))
        use = np.flatnonzero((np.abs(eff) > max(floor, 1e-12)) & (avail > 1e-6))
        if not len(use):
            return 0.0
        order = _cheapest(use, cost[use], np.abs(eff[use]) * avail[use], need)
        take = _fill(np.abs(eff[order]) * avail[order], need)
        amount = take / np.abs(eff[order])
        if reactive:
            self.q[order] -= np.sign(eff[order]) * amount
        else:
            self.m[order] -= np.sign(eff[order]) * amount
        self._explain(order[amount > 0], eff, why, reactive=reactive)
        return float(np.sum(take))

    def _explain(
        self, moved: IntArray, eff: FloatArray, why: tuple[ViolationKind, int, str], *,
        reactive: bool,
    ) -> None:  # fmt: skip
        kind, k, state = why
        if kind in ("overvoltage", "undervoltage"):
            element = self.lg.topology.bus_ids[k]
            name, unit = ("dV/dQ", "pu/kvar") if reactive else ("dV/dP", "pu/kW")
        elif kind == "thermal":
            element = self.op.result.branch_ids[int(self.op.branch_index[k])]
            name, unit = ("dLoading/dQ", "pct/kvar") if reactive else ("dLoading/dP", "pct/kW")
        else:
            element, name, unit = "substation", "dP_substation/dP", "kW/kW"
        for r in moved.tolist():
            if self.reasons[r] is None:
                sens = f"{name} {abs(eff[r]):.3g} {unit} (LinDistFlow, AC-calibrated)"
                self.reasons[r] = Reason(kind, element, state, sens)


def _cheapest(use: IntArray, cost: FloatArray, relief: FloatArray, need: float) -> IntArray:
    """``use`` in order of ``cost``, at least far enough to cover ``need`` (a partial sort
    when the cheapest few suffice, as they usually do)."""
    k = 64
    if len(use) > 4 * k:
        part = np.argpartition(cost, k)[:k]
        part = part[np.argsort(cost[part], kind="stable")]
        if float(np.sum(relief[part])) >= need * _OVERSHOOT:
            out: IntArray = use[part]
            return out
    full: IntArray = use[np.argsort(cost, kind="stable")]
    return full


def _fill(relief: FloatArray, need: float) -> FloatArray:
    """Take ``relief`` in order until ``need`` (with a little overshoot) is met: amounts."""
    target = need * _OVERSHOOT + 1e-9
    total = np.cumsum(relief)
    take = relief.copy()
    full = int(np.searchsorted(total, target))
    if full < len(relief):
        take[full] = target - (total[full - 1] if full > 0 else 0.0)
        take[full + 1 :] = 0.0
    return take
