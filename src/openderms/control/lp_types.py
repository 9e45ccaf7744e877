"""Inputs and results of the OPF's LP (see ``lp``): plain values, generator convention."""

from __future__ import annotations

from dataclasses import dataclass

from openderms.control.linear import OperatingPoint
from openderms.control.types import FloatArray, IntArray
from openderms.control.violations import Margins


@dataclass(frozen=True, slots=True)
class LpInput:
    """One linearisation: the AC point and where the resources stood there.

    ``m_it_col_kw``/``q_it_col_kvar``: per injection column, export and vars at the AC point
    minus the resources' references (generator convention).
    """

    op: OperatingPoint
    m_it_col_kw: FloatArray
    q_it_col_kvar: FloatArray
    import_max_kw: float | None
    reverse_max_kw: float | None
    margins: Margins


@dataclass(frozen=True, slots=True, eq=False)
class LpResult:
    """Per-resource decisions, the LP's status and the duals used to explain them."""

    dn_kw: FloatArray
    up_kw: FloatArray
    q_kvar: FloatArray  # absolute vars per resource (reference plus qi minus qa)
    objective: float
    status: str
    elastic: bool
    slack: float  # sum of slacks used (0 when every limit could be met)
    n_cols: int
    n_rows: int
    solve_s: float
    iterations: int
    v_bus: IntArray  # buses with a voltage limit in the LP
    v_dual: FloatArray  # per ``v_bus``: dual of its voltage limit (per pu)
    branches: IntArray  # watched branches (indices into ``op.branch_index``)
    branch_dual: FloatArray  # per watched branch: its most negative facet dual (per kVA)
    sub_dual: float
