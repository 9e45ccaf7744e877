"""The hosting worst cases of a network, solved with an AC power flow; the linear state the
screen moves from there (``LinearCase``) and its plain result types (``Constraint``,
``AcCheck``; ``openderms.grid.hosting`` re-exports them).

Two base cases, both with the network's own DER removed (the DER registry is the source of
truth for DER) and replaced by one "slot" per bus carrying what the registry already granted:

- ``min_load``: every load at its minimum (each load's minimum over the day of an
  ``InjectionSeries``, or ``min_load_fraction`` of the model's load), granted export at its
  bus. Export (reverse flow, voltage rise) is screened here.
- ``peak_load``: the loads of the day's coincident peak (the step with the highest total
  load; per-load maxima never coincide), or ``peak_load_fraction`` of the model's load, with
  granted import as load at its bus and no export (evening: PV is off). Import-only DER are
  screened here.

Results are mapped onto the topology's spanning tree: per bus the highest and lowest phase
voltage, per tree edge (named by the bus it feeds) the active and reactive power flowing away
from the source and the edge's rating. Signs: slot ``kw`` is in generator convention
(positive = export, negative = import); loads in load convention (positive = consumed);
``p_away_kw`` is positive when power flows from the source towards the fed bus.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from openderms.errors import EngineUnsupportedError
from openderms.grid.model import Der, Network, Nodes
from openderms.grid.powerflow import EngineName, InjectionSeries, PowerFlowResult, solve
from openderms.grid.topology import Topology

FloatArray = NDArray[np.float64]
CaseName = Literal["min_load", "peak_load"]
SLOT_PREFIX = "__hosting_slot:"
LOAD_BAND_PU = (0.8, 1.2)


@dataclass(frozen=True, slots=True)
class CaseLoads:
    """Load powers of one base case, columns in ``net.loads`` order (load convention)."""

    name: CaseName
    p_kw: FloatArray
    q_kvar: FloatArray


@dataclass(frozen=True, slots=True)
class CaseState:
    """One solved base case on the topology (arrays over ``topo.bus_ids``).

    ``p_away_kw``/``q_away_kvar``/``s_limit_kva`` describe the tree edge feeding each bus (0
    for roots and de-energised buses). ``s_limit_kva`` is the edge's rating at the case's
    voltage (current limits scale with voltage: rated kVA x the lower end voltage in pu).
    """

    v_max_pu: FloatArray
    v_min_pu: FloatArray
    p_away_kw: FloatArray
    q_away_kvar: FloatArray
    s_limit_kva: FloatArray
    result: PowerFlowResult


@dataclass(frozen=True, slots=True)
class Constraint:
    """What limits a DER: voltage at a bus, or the rating of a branch (``kind`` "none" when
    nothing limits it, for example a de-energised bus)."""

    kind: Literal["voltage", "thermal", "none"]
    element_kind: str  # "bus", "line", "transformer", "switch", "reactor", ""
    element_id: str
    limit: float  # pu (voltage) or kVA (thermal)

    def describe(self) -> str:
        if self.kind == "voltage":
            return f"voltage at bus {self.element_id} (limit {self.limit:.3f} pu)"
        if self.kind == "thermal":
            return f"thermal on {self.element_kind} {self.element_id} ({self.limit:.0f} kVA)"
        return "none"


@dataclass(frozen=True, slots=True)
class AcCheck:
    """A full AC power flow of a hosting worst case with a given set of grants.

    ``v_over_max_pu`` is the largest ``v - v_max`` over energised buses (negative: all below),
    ``v_under_min_pu`` the largest ``v_min - v``.
    """

    case: str
    v_max_pu: float
    v_max_bus: str
    v_min_pu: float
    v_min_bus: str
    v_over_max_pu: float
    v_under_min_pu: float
    loading_max_pct: float
    loading_max_branch: str


@dataclass(slots=True)
class LinearCase:
    """Mutable linear state of one worst case (voltages of monitored buses, edge flows)."""

    loads: CaseLoads
    base: CaseState
    v_pu: FloatArray  # per monitored bus: max phase (export case) / min phase (import case)
    v_bound_pu: FloatArray  # the effective limit per monitored bus
    p_away_kw: FloatArray  # per fed bus
    s_limit_kva: FloatArray  # per fed bus, never below the base case's flow
    s_limit0_kva: FloatArray  # the same in the base case (imports lower it: ``grant``)
    granted_kw: dict[str, float] = field(default_factory=dict)
    # per regulated bus (+ a last 0 for "none"): drift towards the limit and room in its band
    drift_pu: FloatArray = field(default_factory=lambda: np.zeros(1))
    room_pu: FloatArray = field(default_factory=lambda: np.zeros(1))


def case_loads(
    net: Network,
    injections: InjectionSeries | None,
    min_load_fraction: float,
    peak_load_fraction: float,
) -> tuple[CaseLoads, CaseLoads]:
    """The ``min_load`` and ``peak_load`` load powers (see the module docstring)."""
    n = len(net.loads)
    if injections is None:
        p = np.array([ld.p_kw for ld in net.loads], dtype=np.float64)
        q = np.array([ld.q_kvar for ld in net.loads], dtype=np.float64)
        return (
            CaseLoads("min_load", p * min_load_fraction, q * min_load_fraction),
            CaseLoads("peak_load", p * peak_load_fraction, q * peak_load_fraction),
        )
    lp = np.asarray(injections.load_p_kw, dtype=np.float64)
    lq = np.asarray(injections.load_q_kvar, dtype=np.float64)
    if lp.ndim != 2 or lp.shape[1] != n or lq.shape != lp.shape or lp.shape[0] == 0:
        raise ValueError(
            f"injections load arrays have shape {lp.shape}/{lq.shape}, expected [steps, {n}]"
        )
    cols = np.arange(n)
    at_min = np.argmin(lp, axis=0)
    peak = int(np.argmax(lp.sum(axis=1)))
    return (
        CaseLoads("min_load", lp[at_min, cols], lq[at_min, cols]),
        CaseLoads("peak_load", lp[peak].copy(), lq[peak].copy()),
    )


def bus_nodes(net: Network) -> dict[str, Nodes]:
    """The phase nodes present at each bus (from the elements touching it; default ABC)."""
    out: dict[str, Nodes] = {}
    for ln in net.lines:
        out.setdefault(ln.bus1, ln.nodes1)
        out.setdefault(ln.bus2, ln.nodes2)
    for tr in net.transformers:
        for w in tr.windings:
            out.setdefault(w.bus, w.nodes)
    for ld in net.loads:
        out.setdefault(ld.bus, ld.nodes)
    for d in net.ders:
        out.setdefault(d.bus, d.nodes)
    return {b: tuple(k for k in nodes if 1 <= k <= 3) or (1, 2, 3) for b, nodes in out.items()}


def slot_network(net: Network, buses: tuple[str, ...]) -> Network:
    """``net`` without its DER and with one zero-output slot DER per bus in ``buses``.

    Loads keep their law between ``LOAD_BAND_PU`` (OpenDSS-style engines change a load's law
    outside its own ``v_min_pu``/``v_max_pu``, by default exactly the 0.95/1.05 pu the screen
    works at, where the AC solution can then flip between laws). Holding constant power
    there is conservative for both cases: a constant-impedance load at 1.05 pu draws more
    (lowering the voltage) and at 0.95 pu less.
    """
    base = {b.id: b for b in net.buses}
    lo, hi = LOAD_BAND_PU
    loads = tuple(
        dataclasses.replace(ld, v_min_pu=min(ld.v_min_pu, lo), v_max_pu=max(ld.v_max_pu, hi))
        for ld in net.loads
    )
    nodes = bus_nodes(net)
    slots = tuple(
        Der(
            id=f"{SLOT_PREFIX}{bus}",
            bus=bus,
            nodes=nodes.get(bus, (1, 2, 3)),
            kind="other",
            p_kw=0.0,
            q_kvar=0.0,
            p_max_kw=0.0,
            s_kva=1.0,
            v_kv=base[bus].v_base_kv_ln * math.sqrt(3.0),
        )
        for bus in buses
    )
    return dataclasses.replace(net, loads=loads, ders=slots)


def solve_case(
    slotted: Network, loads: CaseLoads, slot_kw: Mapping[str, float], engine: EngineName
) -> PowerFlowResult:
    """AC power flow of ``slotted`` (from ``slot_network``) with ``loads`` and the slot powers
    ``slot_kw`` (generator convention: export positive, import negative)."""
    der_p = np.array(
        [slot_kw.get(d.bus, 0.0) for d in slotted.ders], dtype=np.float64
    )  # slot i sits at its own bus
    if engine in ("auto", "pgm"):
        from openderms.grid.engines.pgm import PgmModel

        try:
            model = PgmModel.from_network(slotted)
        except EngineUnsupportedError:
            if engine == "pgm":
                raise
        else:
            return model.solve(
                load_p_kw=loads.p_kw,
                load_q_kvar=loads.q_kvar,
                der_p_kw=der_p if len(der_p) else None,
            )
    case = dataclasses.replace(
        slotted,
        loads=tuple(
            dataclasses.replace(ld, p_kw=float(p), q_kvar=float(q))
            for ld, p, q in zip(slotted.loads, loads.p_kw, loads.q_kvar, strict=True)
        ),
        ders=tuple(
            dataclasses.replace(d, p_kw=float(p)) for d, p in zip(slotted.ders, der_p, strict=True)
        ),
    )
    return solve(case, engine)


def ac_check(
    net: Network,
    topo: Topology,
    loads: CaseLoads,
    slot_kw: Mapping[str, float],
    engine: EngineName,
) -> AcCheck:
    """AC power flow of ``net``'s worst case ``loads`` with DER slots at ``slot_kw``
    (generator convention), summarised over the energised buses and every branch."""
    res = solve_case(slot_network(net, tuple(sorted(slot_kw))), loads, slot_kw, engine)
    state = case_state(net, topo, res)
    mon = np.flatnonzero(topo.energised)
    hi, lo = state.v_max_pu[mon], state.v_min_pu[mon]
    v_max = np.array([net.buses[i].v_max_pu for i in mon.tolist()])
    v_min = np.array([net.buses[i].v_min_pu for i in mon.tolist()])
    a, z = int(np.argmax(hi)), int(np.argmin(lo))
    worst = int(np.argmax(res.loading_pct)) if len(res.loading_pct) else -1
    return AcCheck(
        case=loads.name,
        v_max_pu=float(hi[a]),
        v_max_bus=topo.bus_ids[int(mon[a])],
        v_min_pu=float(lo[z]),
        v_min_bus=topo.bus_ids[int(mon[z])],
        v_over_max_pu=float(np.max(hi - v_max)),
        v_under_min_pu=float(np.max(v_min - lo)),
        loading_max_pct=float(res.loading_pct[worst]) if worst >= 0 else 0.0,
        loading_max_branch=res.branch_ids[worst] if worst >= 0 else "",
    )


def case_state(net: Network, topo: Topology, result: PowerFlowResult) -> CaseState:
    """Map an AC result onto the topology: bus voltage range, edge flows away from the source."""
    n = len(topo.bus_ids)
    cols = np.array([topo.bus_index.get(b, -1) for b in result.node_bus], dtype=np.int64)
    keep = cols >= 0
    v_max = np.full(n, -np.inf)
    v_min = np.full(n, np.inf)
    np.maximum.at(v_max, cols[keep], result.v_pu[keep])
    np.minimum.at(v_min, cols[keep], result.v_pu[keep])
    dead = ~topo.energised | ~np.isfinite(v_max)
    v_max[dead] = 0.0
    v_min[dead] = 0.0

    where = {bid: k for k, bid in enumerate(result.branch_ids)}
    first_bus = _terminal1_bus(net)
    rated = edge_ratings_kva(net, topo)
    p_away = np.zeros(n)
    q_away = np.zeros(n)
    s_limit = np.zeros(n)
    for v in np.flatnonzero((topo.parent >= 0) & topo.energised).tolist():
        br = topo.parent_branch[v]
        k = where.get(br) if br is not None else None
        parent = int(topo.parent[v])
        if k is not None:
            sign = 1.0 if first_bus.get(str(br)) == topo.bus_ids[parent] else -1.0
            p_away[v] = sign * float(result.p_from_kw[k])
            q_away[v] = sign * float(result.q_from_kvar[k])
        s_limit[v] = rated[v] * min(v_min[v], v_min[parent])
    return CaseState(v_max, v_min, p_away, q_away, s_limit, result)


def _terminal1_bus(net: Network) -> dict[str, str]:
    out = {ln.id: ln.bus1 for ln in net.lines}
    out.update({sw.id: sw.bus1 for sw in net.switches})
    out.update({tr.id: tr.windings[0].bus for tr in net.transformers})
    out.update({rx.id: rx.bus1 for rx in net.reactors})
    return out


def edge_ratings_kva(net: Network, topo: Topology) -> FloatArray:
    """Rated apparent power (kVA) of the tree edge feeding each bus (0 for roots).

    Lines, switches and series reactors: phases x V_ln x ampacity (three-phase: sqrt(3) V_ll
    I); transformers: their kVA (the fed winding's).
    """
    base = {b.id: b.v_base_kv_ln for b in net.buses}
    amps: dict[str, tuple[float, int]] = {}
    for ln in net.lines:
        amps[ln.id] = (ln.ampacity_a, sum(1 for k in ln.nodes1 if 1 <= k <= 3) or 1)
    for sw in net.switches:
        amps[sw.id] = (sw.ampacity_a, sum(1 for k in sw.nodes1 if 1 <= k <= 3) or 1)
    for rx in net.reactors:
        amps[rx.id] = (rx.ampacity_a, sum(1 for k in rx.nodes1 if 1 <= k <= 3) or 1)
    winding_kva = {
        (tr.id, w.bus): w.s_kva for tr in net.transformers for w in tr.windings
    }  # a winding's own rating
    out = np.zeros(len(topo.bus_ids))
    for v in np.flatnonzero(topo.parent >= 0).tolist():
        br = str(topo.parent_branch[v])
        bus = topo.bus_ids[v]
        if br in amps:
            i_a, phases = amps[br]
            out[v] = phases * base[bus] * i_a
        else:
            out[v] = winding_kva.get(
                (br, bus), winding_kva.get((br, topo.bus_ids[topo.parent[v]]), 0.0)
            )
    return out


def branch_kinds(net: Network) -> dict[str, str]:
    """Kind name ("line", "switch", "transformer", "reactor") of every branch id."""
    out = {ln.id: "line" for ln in net.lines}
    out.update({sw.id: "switch" for sw in net.switches})
    out.update({tr.id: "transformer" for tr in net.transformers})
    out.update({rx.id: "reactor" for rx in net.reactors})
    return out


def path_edges(topo: Topology, bus: int) -> NDArray[np.int64]:
    """The tree edges from the source down to ``bus``, each named by the bus it feeds."""
    out = []
    while topo.parent[bus] >= 0:
        out.append(bus)
        bus = int(topo.parent[bus])
    return np.array(out[::-1], dtype=np.int64)
