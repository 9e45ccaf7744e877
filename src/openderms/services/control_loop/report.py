"""``StepReport``: what one step of the control loop saw and did."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from openderms.control import ControlPlan, Violation


@dataclass(frozen=True, slots=True)
class StepReport:
    """What one step saw and did (the bus payloads are built from it)."""

    at: datetime
    violations: tuple[Violation, ...]
    plan: ControlPlan | None
    heuristic: ControlPlan | None
    queued: tuple[str, ...]
    cancelled: tuple[str, ...]
    sent: int
    newly_silent: tuple[str, ...]
    cleared: tuple[str, ...]
    actionable: tuple[Violation, ...] = ()  # violations DER can act on (not outside control)
