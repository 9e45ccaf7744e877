"""Violation detection from an AC power-flow result, and clearing with hysteresis.

``detect_violations(result, net, limits)`` lists every limit exceeded:

- voltage: each energised bus against its own ``v_min_pu``/``v_max_pu`` (lowest and highest
  phase); de-energised nodes (``v_pu == 0``, isolated by open switches) are ignored;
- thermal: every branch in the result (lines, closed switches, transformers, series reactors)
  loaded above 100 % of its rating;
- net load: the substation's ``substation_p_kw`` (positive = import from transmission) above
  the import limit, or its reverse flow (export magnitude) above the reverse-flow limit.

``margins`` moves every limit inwards (voltages by ``v_pu``, loading by ``loading_pct``, net
load by ``p_kw``): the dispatch aims inside the limits, and the revert logic calls
``cleared`` to see which earlier violations are now inside their limits by the hysteresis
margin (not merely back at the limit, which would make controls chatter).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from openderms.control.types import FloatArray, IntArray, NetLoadLimits, Violation
from openderms.grid.model import Network
from openderms.grid.powerflow import PowerFlowResult


@dataclass(frozen=True, slots=True)
class Margins:
    """Inward offsets of the limits: per unit of voltage, percent of rating, kW of net load."""

    v_pu: float = 0.0
    loading_pct: float = 0.0
    p_kw: float = 0.0


#: default clearing hysteresis: a violation is over once inside its limit by this much
CLEARING_HYSTERESIS = Margins(v_pu=0.005, loading_pct=5.0, p_kw=100.0)


@dataclass(frozen=True, slots=True, eq=False)
class BusVoltages:
    """Lowest and highest phase voltage per bus of ``net.buses`` (NaN when de-energised)."""

    v_min_pu: FloatArray
    v_max_pu: FloatArray
    limit_min_pu: FloatArray
    limit_max_pu: FloatArray


def bus_voltages(result: PowerFlowResult, net: Network) -> BusVoltages:
    """Per-bus voltage extremes and limits, in ``net.buses`` order."""
    index = {b.id: i for i, b in enumerate(net.buses)}
    node_bus = np.fromiter((index[b] for b in result.node_bus), np.int64, len(result.node_bus))
    return _reduce(result.v_pu, node_bus, net)


def _reduce(v_pu: FloatArray, node_bus: IntArray, net: Network) -> BusVoltages:
    n = len(net.buses)
    live = v_pu > 0.0
    hi = np.full(n, -np.inf)
    lo = np.full(n, np.inf)
    np.maximum.at(hi, node_bus[live], v_pu[live])
    np.minimum.at(lo, node_bus[live], v_pu[live])
    dead = ~np.isfinite(hi)
    hi[dead] = np.nan
    lo[dead] = np.nan
    return BusVoltages(
        v_min_pu=lo,
        v_max_pu=hi,
        limit_min_pu=np.array([b.v_min_pu for b in net.buses]),
        limit_max_pu=np.array([b.v_max_pu for b in net.buses]),
    )


def detect_violations(
    result: PowerFlowResult,
    net: Network,
    limits: NetLoadLimits | None = None,
    *,
    when: datetime | None = None,
    margins: Margins | None = None,
    voltages: BusVoltages | None = None,
) -> tuple[Violation, ...]:
    """Every violation in ``result`` (a power flow of ``net``), worst first within each kind.

    ``limits`` adds the substation net-load checks (windows chosen by ``when``, UTC-aware;
    ``substation_p_kw`` positive = import, a reverse flow's value is its export magnitude);
    ``margins`` tightens every limit (the reported ``limit`` is the tightened one).
    """
    return detect_from_arrays(
        tuple(b.id for b in net.buses),
        voltages or bus_voltages(result, net),
        result.branch_ids,
        result.loading_pct,
        result.substation_p_kw,
        limits=limits,
        when=when,
        margins=margins,
    )


def detect_from_arrays(
    bus_ids: tuple[str, ...],
    bv: BusVoltages,
    branch_ids: tuple[str, ...],
    loading_pct: FloatArray,
    substation_p_kw: float,
    *,
    limits: NetLoadLimits | None = None,
    when: datetime | None = None,
    margins: Margins | None = None,
) -> tuple[Violation, ...]:
    """Violations of per-bus voltages, branch loadings and a substation flow given as arrays
    (an AC result, or a linear prediction); signs and margins as in ``detect_violations``."""
    m = margins or Margins()
    out: list[Violation] = []
    with np.errstate(invalid="ignore"):
        over = bv.v_max_pu > bv.limit_max_pu - m.v_pu
        under = bv.v_min_pu < bv.limit_min_pu + m.v_pu
    for i in np.flatnonzero(over)[np.argsort(-bv.v_max_pu[over])].tolist():
        lim = float(bv.limit_max_pu[i] - m.v_pu)
        out.append(Violation("overvoltage", bus_ids[i], float(bv.v_max_pu[i]), lim, "pu"))
    for i in np.flatnonzero(under)[np.argsort(bv.v_min_pu[under])].tolist():
        lim = float(bv.limit_min_pu[i] + m.v_pu)
        out.append(Violation("undervoltage", bus_ids[i], float(bv.v_min_pu[i]), lim, "pu"))
    hot = np.flatnonzero(loading_pct > 100.0 - m.loading_pct)
    for i in hot[np.argsort(-loading_pct[hot])].tolist():
        lim = 100.0 - m.loading_pct
        out.append(Violation("thermal", branch_ids[i], float(loading_pct[i]), lim, "pct"))
    out.extend(net_load_violations(substation_p_kw, limits, when=when, margin_kw=m.p_kw))
    return tuple(out)


def net_load_violations(
    substation_p_kw: float,
    limits: NetLoadLimits | None,
    *,
    when: datetime | None = None,
    margin_kw: float = 0.0,
) -> tuple[Violation, ...]:
    """Net-load violations of a substation flow (positive = import, negative = reverse flow)."""
    if limits is None:
        return ()
    import_max, reverse_max = limits.at(when)
    out: list[Violation] = []
    if import_max is not None and substation_p_kw > import_max - margin_kw:
        lim = import_max - margin_kw
        out.append(Violation("net_load_import", "substation", substation_p_kw, lim, "kw"))
    if reverse_max is not None and -substation_p_kw > reverse_max - margin_kw:
        lim = reverse_max - margin_kw
        out.append(Violation("reverse_flow", "substation", -substation_p_kw, lim, "kw"))
    return tuple(out)


def cleared(
    previous: Iterable[Violation],
    result: PowerFlowResult,
    net: Network,
    limits: NetLoadLimits | None = None,
    *,
    when: datetime | None = None,
    hysteresis: Margins = CLEARING_HYSTERESIS,
) -> tuple[Violation, ...]:
    """Those of ``previous`` that are now inside their limits by at least ``hysteresis``."""
    still = {v.key for v in detect_violations(result, net, limits, when=when, margins=hysteresis)}
    return tuple(v for v in previous if v.key not in still)
