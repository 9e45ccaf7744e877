"""Why the OPF moved each resource: the binding constraint that priced it most.

For a resource that moved, every binding constraint of the final LP contributes its shadow
price times the resource's sensitivity to it (LinDistFlow: ``dV/dP``/``dV/dQ`` for a voltage
limit, the branch's apparent power per kW behind it for a thermal limit, 1 kW per kW for the
substation's net load). The largest contribution names the reason, with the sensitivity used.
Shadow prices follow HiGHS (minimisation): negative at an upper limit, positive at a lower one.
"""

from __future__ import annotations

import numpy as np

from openderms.control.linear import LinearGrid, OperatingPoint
from openderms.control.lp_types import LpResult
from openderms.control.plan import Reason
from openderms.control.resources import Resources
from openderms.control.types import ViolationKind

_MAX_VOLTAGE_ROWS = 200
_TOL = 1e-9
_MODEL = "(LinDistFlow, AC-calibrated)"


def explain(
    lg: LinearGrid, res: Resources, lp: LpResult, op: OperatingPoint, before: OperatingPoint
) -> list[Reason | None]:
    """Per resource: the reason it moved (None when it did not). ``op`` is the final LP's AC
    point (flows for the sensitivities), ``before`` the AC state the dispatch started from
    (what each reason reports)."""
    moved_p = np.abs(lp.up_kw - lp.dn_kw) > 1e-6
    moved_q = np.abs(lp.q_kvar - res.q_ref_kvar) > 1e-6
    moved = np.flatnonzero(moved_p | moved_q)
    out: list[Reason | None] = [None] * len(res)
    if not len(moved):
        return out
    best = np.zeros(len(moved))
    cols = res.col[moved]
    only_q = moved_q[moved] & ~moved_p[moved]

    bind = np.flatnonzero(np.abs(lp.v_dual) > _TOL)
    bind = bind[np.argsort(-np.abs(lp.v_dual[bind]))][:_MAX_VOLTAGE_ROWS]
    if len(bind):
        buses = lp.v_bus[bind]
        a_p, a_q = lg.voltage_rows(buses)
        sens = np.where(only_q[None, :], a_q[:, cols], a_p[:, cols])
        score = np.abs(lp.v_dual[bind])[:, None] * np.abs(sens)
        top = np.argmax(score, axis=0)
        val = score[top, np.arange(len(moved))]
        for j in np.flatnonzero(val > best).tolist():
            i, b = int(top[j]), int(buses[top[j]])
            over = bool(lp.v_dual[bind[i]] < 0)
            kind: ViolationKind = "overvoltage" if over else "undervoltage"
            v = before.voltages.v_max_pu[b] if over else before.voltages.v_min_pu[b]
            lim = before.voltages.limit_max_pu[b] if over else before.voltages.limit_min_pu[b]
            name, unit = ("dV/dQ", "pu/kvar") if only_q[j] else ("dV/dP", "pu/kW")
            out[int(moved[j])] = Reason(
                kind,
                lg.topology.bus_ids[b],
                f"AC {v:.4f} pu, limit {lim:.3f} pu",
                f"{name} {abs(sens[i, j]):.3g} {unit} {_MODEL}",
            )
            best[j] = val[j]

    for n, br in enumerate(lp.branches.tolist()):
        d = abs(float(lp.branch_dual[n]))
        if d <= _TOL:
            continue
        start, end = lg.col_range(int(op.branch_bus[br]))
        p0, q0 = op.p_down_kw[br], op.q_down_kvar[br]
        s0 = max(float(np.hypot(p0, q0)), 1e-9)
        per_unit = np.where(only_q, abs(float(q0)), abs(float(p0))) / s0  # kVA per kW or kvar
        bid = op.result.branch_ids[int(op.branch_index[br])]
        inside = (cols >= start) & (cols < end)
        for j in np.flatnonzero(inside & (d * per_unit > best)).tolist():
            name, unit = ("dLoading/dQ", "pct/kvar") if only_q[j] else ("dLoading/dP", "pct/kW")
            out[int(moved[j])] = Reason(
                "thermal",
                bid,
                f"AC {before.result.loading_pct[int(op.branch_index[br])]:.1f} % of rating",
                f"{name} {float(op.loading_pct[br]) / s0 * per_unit[j]:.3g} {unit} {_MODEL}",
            )
            best[j] = d * per_unit[j]

    if abs(lp.sub_dual) > _TOL:  # lossless: only active power moves the substation's flow
        kind_sub: ViolationKind = "net_load_import" if lp.sub_dual < 0 else "reverse_flow"
        p = before.result.substation_p_kw
        for j in np.flatnonzero((abs(lp.sub_dual) > best) & ~only_q).tolist():
            out[int(moved[j])] = Reason(
                kind_sub,
                "substation",
                f"AC {p:.0f} kW, positive = import",
                "dP_substation/dP 1 kW/kW (lossless)",
            )
    return out
