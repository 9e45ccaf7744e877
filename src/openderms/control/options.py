"""Tuning of both dispatch tiers: objective weights, safety margins, monitoring bands."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from openderms.control.types import FloatArray, IntArray
from openderms.control.violations import Margins


@dataclass(frozen=True, slots=True)
class CostWeights:
    """Objective weights: per kW of export lowered (generation lost: ``curtail_per_kw``) or
    moved (storage shifted: ``shift_per_kw``), per kvar of reactive power, each times
    ``priority_weight[priority]`` (so DER under a market schedule move last).
    ``q_min_p_share``: inverters below this share of their rating offer no vars (IEEE
    1547-2018 requires reactive capability from 5 % of rated active power)."""

    curtail_per_kw: float = 1.0
    shift_per_kw: float = 0.3
    q_per_kvar: float = 0.01
    priority_weight: tuple[float, ...] = (1.0, 10.0, 100.0)
    q_min_p_share: float = 0.05

    def weight(self, priority: IntArray) -> FloatArray:
        table = np.asarray(self.priority_weight, dtype=np.float64)
        out: FloatArray = table[np.clip(priority, 0, len(table) - 1)]
        return out


@dataclass(frozen=True, slots=True)
class DispatchOptions:
    """How both tiers dispatch.

    ``margins``: the plan aims this far inside every limit, so the AC result ends inside it
    despite linearisation error. ``band``: constraints this close to a limit at the
    linearisation point (or beyond it) are modelled by the OPF; others are checked by AC.
    ``max_iterations``: AC checks / re-linearisations of the OPF. ``regulate``: regulator taps
    (substation LTCs) act in the AC checks, as they will in the field after their delay.
    ``aggregate``: ``"bus"`` decides per injection bus and class (exact in LinDistFlow, see
    ``resources``); ``"der"`` keeps one resource per DER (small cases, tests).
    """

    margins: Margins = field(
        default_factory=lambda: Margins(v_pu=0.003, loading_pct=2.0, p_kw=20.0)
    )
    band: Margins = field(default_factory=lambda: Margins(v_pu=0.02, loading_pct=20.0, p_kw=0.0))
    costs: CostWeights = field(default_factory=CostWeights)
    use_reactive: bool = True
    max_iterations: int = 4
    regulate: bool = True
    aggregate: str = "bus"
    tolerance_kw: float = 0.01  # smaller changes of a DER's set point make no control
    max_heuristic_steps: int = 200
    min_effectiveness: float = 0.02  # the heuristic leaves DER less effective than this share
    # of the best one for a violation (moving a whole bank a little helps no bus)
