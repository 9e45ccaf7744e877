"""Turning per-DER set points into controls and a plan (shared by both dispatch tiers).

A plan lists a control for every DER whose set point differs from its reference (uncontrolled
output or schedule); a DER with a control in force that the plan does not list returns to its
reference. Generation gets an export cap (``p_max_kw``, curtailment), storage and EV chargers
a target (``p_kw``); reactive power a set point (``q_kvar``). Generator convention throughout
(positive = export).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

import numpy as np

from openderms.control.resources import Resources
from openderms.control.types import DerControl, Fleet, FloatArray, ViolationKind

#: queue priority of a control by the kind of constraint it relieves (higher goes first)
CONTROL_PRIORITY: Mapping[str, int] = MappingProxyType(
    {"thermal": 3, "overvoltage": 2, "undervoltage": 2, "net_load_import": 1, "reverse_flow": 1}
)


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a resource moved: the constraint (kind, element, its state) and the sensitivity
    used (name, value, unit, model). Each DER's control adds its own action."""

    kind: ViolationKind
    element_id: str
    state: str  # e.g. "AC 1.0612 pu, limit 1.050 pu"
    sensitivity: str  # e.g. "dV/dP 2.1e-05 pu/kW (LinDistFlow)"

    def text(self, action: str) -> str:
        return f"{self.kind} at {self.element_id} ({self.state}): {action}; {self.sensitivity}"


def action_text(p_ref_kw: float, p_kw: float, q_ref_kvar: float, q_kvar: float, *,
                storage: bool, tolerance: float) -> str:  # fmt: skip
    """What one DER is asked to do, in words (generator convention: negative = charging)."""
    parts = []
    if abs(p_kw - p_ref_kw) > tolerance:
        if storage:
            parts.append(f"set active power to {p_kw:.2f} kW (was {p_ref_kw:.2f} kW)")
        else:
            parts.append(f"cap export at {p_kw:.2f} kW (available {p_ref_kw:.2f} kW)")
    if abs(q_kvar - q_ref_kvar) > tolerance:
        verb = "absorb" if q_kvar < 0 else "inject"
        parts.append(f"{verb} {abs(q_kvar):.2f} kvar")
    return ", ".join(parts)


def check_alignment(fleet: Fleet, der_ids: Sequence[str]) -> None:
    """Dispatch needs the fleet in ``net.ders`` order; say which DER differs if not."""
    if fleet.ids != tuple(der_ids):
        n = min(len(fleet.ids), len(der_ids))
        first = next((i for i in range(n) if fleet.ids[i] != der_ids[i]), n)
        raise ValueError(
            f"fleet does not follow net.ders: position {first} holds "
            f"{fleet.ids[first] if first < len(fleet.ids) else None!r}, network has "
            f"{der_ids[first] if first < len(der_ids) else None!r} "
            f"({len(fleet.ids)} vs {len(der_ids)} DER)"
        )


def build_controls(
    fleet: Fleet,
    res: Resources,
    p_kw: FloatArray,
    q_kvar: FloatArray,
    reasons: Sequence[Reason | None],
    *,
    tolerance_kw: float,
    start: datetime | None = None,
    expiry: datetime | None = None,
) -> tuple[DerControl, ...]:
    """Controls for the dispatchable DER whose set point moved from its reference."""
    storage = fleet.is_storage
    moved_p = np.abs(p_kw - fleet.p_kw) > tolerance_kw
    moved_q = np.abs(q_kvar - fleet.q_kvar) > tolerance_kw
    out: list[DerControl] = []
    for i in np.flatnonzero((moved_p | moved_q) & (res.der_res >= 0)).tolist():
        why = reasons[int(res.der_res[i])]
        p_new, q_new = float(p_kw[i]), float(q_kvar[i])
        action = action_text(
            float(fleet.p_kw[i]), p_new, float(fleet.q_kvar[i]), q_new,
            storage=bool(storage[i]), tolerance=tolerance_kw,
        )  # fmt: skip
        kind = why.kind if why is not None else "overvoltage"
        element = why.element_id if why is not None else ""
        text = why.text(action) if why is not None else f"{action} (with its bus's other DER)"
        out.append(
            DerControl(
                der_id=fleet.ids[i],
                reason=text,
                p_max_kw=round(p_new, 3) if moved_p[i] and not storage[i] else None,
                p_kw=round(p_new, 3) if moved_p[i] and storage[i] else None,
                q_kvar=round(q_new, 3) if moved_q[i] else None,
                priority=CONTROL_PRIORITY[kind],
                constraint=f"{kind}:{element}",
                start=start,
                expiry=expiry,
            )
        )
    return tuple(out)


def totals(fleet: Fleet, p_kw: FloatArray, q_kvar: FloatArray) -> tuple[float, float, float]:
    """``(curtailed_kw, shifted_kw, q_used_kvar)`` of set points against the references:
    generation lost, storage / EV chargers moved (either way), vars changed."""
    d = p_kw - fleet.p_kw
    storage = fleet.is_storage
    return (
        float(np.sum(np.maximum(-d[~storage], 0.0))),
        float(np.sum(np.abs(d[storage]))),
        float(np.sum(np.abs(q_kvar - fleet.q_kvar))),
    )
