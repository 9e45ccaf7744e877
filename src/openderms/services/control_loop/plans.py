"""From a dispatch plan to queue requests, and the bus payloads of violations and plans.

Signs: generator convention (positive = export; ``q_kvar`` negative absorbs vars).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from openderms.control import (
    ControlPlan,
    DerControl,
    NetLoadLimits,
    Violation,
    detect_violations,
)
from openderms.grid.model import Network
from openderms.services.control_loop.ports import ControlRequest
from openderms.services.control_loop.state import GridState


def request_of(
    c: DerControl,
    control_id: str,
    net_index: dict[str, int],
    net: Network,
    *,
    now: datetime,
    duration_s: float,
) -> ControlRequest:
    """The queue request for one planned control, starting now for ``duration_s``."""
    d = net.ders[net_index[c.der_id]]
    start = c.start or now
    expiry = c.expiry or start + timedelta(seconds=duration_s)
    return ControlRequest(
        control_id=control_id,
        der_id=c.der_id,
        start=start,
        expiry=expiry,
        priority=c.priority,
        p_max_kw=c.p_max_kw,
        p_kw=c.p_kw,
        q_kvar=c.q_kvar,
        rated_kw=d.p_max_kw,
        s_kva=d.s_kva,
        reason=c.reason,
        constraint=c.constraint,
    )


def same_setpoint(a: ControlRequest, c: DerControl, tolerance: float) -> bool:
    """Whether the open request ``a`` already asks what ``c`` asks (within ``tolerance`` kW)."""
    pairs = ((a.p_max_kw, c.p_max_kw), (a.p_kw, c.p_kw), (a.q_kvar, c.q_kvar))
    for x, y in pairs:
        if (x is None) != (y is None):
            return False
        if x is not None and y is not None and abs(x - y) > tolerance:
            return False
    return True


def within_deadband(
    a: ControlRequest, c: DerControl, *, tolerance: float, deadband_kw: float, violated: bool
) -> bool:
    """Whether the open request ``a`` can stay instead of sending ``c`` (direction-aware
    deadband against churn): every set point moved by no more than ``tolerance``, or by
    less than ``deadband_kw`` (kW / kvar) in a direction that needs no resend. A looser
    export cap (``p_max_kw`` up) inside the deadband is never sent: the open control is
    the safer of the two. A tighter one, or any move of ``p_kw`` / ``q_kvar``, inside the
    deadband is sent only while the control's constraint is ``violated`` (it must tighten
    to clear it). A set point added or removed is always sent. The loop then checks the
    set points kept with ``deadband_holds`` and sends them after all if they fail."""
    pairs = ((a.p_max_kw, c.p_max_kw, True), (a.p_kw, c.p_kw, False), (a.q_kvar, c.q_kvar, False))
    for old, new, is_cap in pairs:
        if (old is None) != (new is None):
            return False
        if old is None or new is None or abs(new - old) <= tolerance:
            continue
        if abs(new - old) >= deadband_kw:
            return False
        looser_cap = is_cap and new > old
        if violated and not looser_cap:
            return False
    return True


def deadband_holds(
    state: GridState,
    plan: ControlPlan,
    kept: Sequence[tuple[DerControl, ControlRequest]],
    *,
    limits: NetLoadLimits | None,
    outside: Collection[str],
    now: datetime,
) -> bool:
    """Whether the plan with the ``kept`` DER at their open requests' set points (instead of
    the plan's) is still clean in an AC power flow: no violation DER can act on beyond those
    the plan itself leaves."""
    index = {d.id: i for i, d in enumerate(state.net.ders)}
    p, q = plan.der_p_kw.copy(), plan.der_q_kvar.copy()
    for c, r in kept:
        i, v = index[c.der_id], state.ders[c.der_id]
        if r.p_max_kw is not None:
            p[i] = min(v.p_available_kw, r.p_max_kw)
        if r.p_kw is not None:
            p[i] = r.p_kw
        if r.q_kvar is not None:
            q[i] = r.q_kvar
    left = detect_violations(state.solve(p, q), state.net, limits, when=now)
    allowed = {v.key for v in plan.actionable_ac_violations} | set(outside)
    return all(v.key in allowed for v in left)


def violation_json(v: Violation) -> dict[str, Any]:
    return {
        "kind": v.kind,
        "element_id": v.element_id,
        "value": v.value,
        "limit": v.limit,
        "unit": v.unit,
        "excess": v.excess,
    }


def violations_payload(at: datetime, violations: Sequence[Violation]) -> dict[str, Any]:
    """Body of ``violations.<substation>``: the AC violations of the present state."""
    return {"at": at.isoformat(), "violations": [violation_json(v) for v in violations]}


def plan_payload(at: datetime, plan: ControlPlan, queued: Sequence[str]) -> dict[str, Any]:
    """Body of ``control_plans.<substation>``: the chosen plan, its controls with their
    reasons (kW / kvar, generator convention) and the ids of the controls queued."""
    return {
        "at": at.isoformat(),
        "method": plan.method,
        "solve_s": plan.solve_s,
        "curtailed_kw": plan.curtailed_kw,
        "shifted_kw": plan.shifted_kw,
        "q_used_kvar": plan.q_used_kvar,
        "violations_before": [violation_json(v) for v in plan.violations_before],
        "ac_violations": (
            None if plan.ac_violations is None else [violation_json(v) for v in plan.ac_violations]
        ),
        "controls": [
            {
                "der_id": c.der_id,
                "p_max_kw": c.p_max_kw,
                "p_kw": c.p_kw,
                "q_kvar": c.q_kvar,
                "constraint": c.constraint,
                "reason": c.reason,
            }
            for c in plan.controls
        ],
        "queued": list(queued),
        "notes": list(plan.notes),
    }


def request_of_renewal(
    r: ControlRequest, control_id: str, now: datetime, duration_s: float
) -> ControlRequest:
    """``r`` again from ``now`` for ``duration_s``, under a new id."""
    return dataclasses.replace(
        r, control_id=control_id, start=now, expiry=now + timedelta(seconds=duration_s)
    )
