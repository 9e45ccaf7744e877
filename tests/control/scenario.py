"""Helpers of the scenario tests: run both tiers at a twin's step, check with AC, describe."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from openderms.control import (
    ControlPlan,
    DispatchOptions,
    Fleet,
    LinearGrid,
    NetLoadLimits,
    Violation,
    detect_violations,
    dispatch_heuristic,
    dispatch_opf,
    pgm_ac,
)
from openderms.grid.engines.pgm_model import PgmModel
from openderms.grid.model import Network


@dataclass(frozen=True)
class Outcome:
    """A dispatch and an independent AC power flow with its set points applied."""

    net: Network
    fleet: Fleet
    heuristic: ControlPlan
    plan: ControlPlan
    after: tuple[Violation, ...]  # AC violations with the OPF plan applied


def run(
    net: Network, limits: NetLoadLimits | None = None, options: DispatchOptions | None = None
) -> Outcome:
    """Both tiers on ``net`` (its DER uncontrolled) and an AC check of the OPF plan."""
    model = PgmModel.from_network(net)
    fleet = Fleet.from_network(net)
    lg = LinearGrid.build(net)
    ac = pgm_ac(model)
    base = ac(fleet.p_present_kw, fleet.q_present_kvar)
    quick = dispatch_heuristic(net, fleet, base, lg, limits, options=options)
    plan = dispatch_opf(net, fleet, lg, ac, limits, base=base, options=options)
    check = model.solve(der_p_kw=plan.der_p_kw, der_q_kvar=plan.der_q_kvar, error_tolerance=1e-6)
    return Outcome(net, fleet, quick, plan, detect_violations(check, net, limits))


def describe(plan: ControlPlan, after: tuple[Violation, ...] | None = None, n: int = 8) -> str:
    """Violations before and after, totals and the first controls with their reasons."""
    lines = [
        (
            f"{plan.method}: {len(plan.violations_before)} violations before "
            f"{dict(Counter(v.kind for v in plan.violations_before))}, "
            f"{len(plan.controls)} controls, curtailed {plan.curtailed_kw:.1f} kW, "
            f"storage shifted {plan.shifted_kw:.1f} kW, vars {plan.q_used_kvar:.1f} kvar, "
            f"{plan.iterations} iterations, {plan.solve_s * 1e3:.0f} ms"
        ),
        *(f"  before: {v}" for v in plan.violations_before[:3]),
        *(
            f"  {c.der_id}: p_max_kw={c.p_max_kw} p_kw={c.p_kw} q_kvar={c.q_kvar} -- {c.reason}"
            for c in plan.controls[:n]
        ),
    ]
    if after is not None:
        lines.append(f"  AC after: {len(after)} violations {[str(v) for v in after[:5]]}")
    return "\n".join(lines)
