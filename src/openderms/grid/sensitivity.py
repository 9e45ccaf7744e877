"""Voltage and branch-flow sensitivities to DER injections.

Two ways, with their error against each other reported by ``compare``:

- ``lindistflow`` (fast): the LinDistFlow path matrix on the energised spanning tree. A
  voltage change at bus m from an injection at bus j is the sum, over the branches common to
  both paths from the source, of ``r * p + x * q`` in per unit, so
  ``dv_dp[m, j] = sum_common r_pu_per_kw`` and ``dv_dq[m, j] = sum_common x_pu_per_kvar``. A
  branch carries an injection downstream of it one for one (lossless). Positive-sequence
  impedances; lossless; flat voltage.
- ``finite_difference`` (exact): one power flow per injection bus with a small extra injection,
  all in one batch (``solve_series``), so it includes losses, unbalance, transformers and
  voltage dependence. Regulator taps are held where the model has them (the seconds-scale
  response, before a tap changer acts); otherwise a tap step would pollute the derivative.

Units: ``dv_dp_pu_per_kw`` is per unit of the monitored bus's base per kW injected
(generator convention: positive = export, which raises voltage); ``dv_dq_pu_per_kvar``
likewise per kvar exported.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix, diags

from openderms.grid.model import Der, Network
from openderms.grid.powerflow import EngineName, InjectionSeries, solve_series
from openderms.grid.topology import Topology, derive_topology
from openderms.grid.units import positive_sequence

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Sensitivities:
    """``dv_dp_pu_per_kw[m, j]``: voltage change at ``monitored[m]`` per kW exported at
    ``injection[j]``; ``dv_dq_pu_per_kvar`` likewise per kvar."""

    method: str
    monitored: tuple[str, ...]
    injection: tuple[str, ...]
    dv_dp_pu_per_kw: FloatArray
    dv_dq_pu_per_kvar: FloatArray


@dataclass(frozen=True, slots=True)
class BranchSensitivities:
    """``flow_per_kw[e, j]``: change of the power flowing away from the source through
    ``branch_ids[e]`` per kW exported at ``injection[j]`` (-1 when downstream, else 0)."""

    branch_ids: tuple[str, ...]
    injection: tuple[str, ...]
    flow_per_kw: FloatArray


def _edge_impedance(net: Network, topo: Topology) -> tuple[FloatArray, FloatArray]:
    """Per-kW resistance and per-kvar reactance (pu) of the branch feeding each bus."""
    n = len(topo.bus_ids)
    r = np.zeros(n)
    x = np.zeros(n)
    v_ll_kv = np.array([b.v_base_kv_ln * math.sqrt(3.0) for b in net.buses])
    lines = {ln.id: ln for ln in net.lines}
    transformers = {t.id: t for t in net.transformers}
    reactors = {rx.id: rx for rx in net.reactors}
    for v in np.flatnonzero(topo.parent >= 0).tolist():
        br = topo.parent_branch[v]
        if br in lines:
            ln = lines[br]
            r_ohm = positive_sequence(ln.r_ohm_per_km) * ln.length_km
            x_ohm = positive_sequence(ln.x_ohm_per_km) * ln.length_km
            scale = 1.0 / (v_ll_kv[v] ** 2 * 1000.0)
            if len(ln.nodes1) == 1:  # one phase carries the whole injection
                scale *= 3.0
            r[v], x[v] = r_ohm * scale, x_ohm * scale
        elif br in transformers:
            tr = transformers[br]
            r_pu = sum(w.r_pct for w in tr.windings[:2]) / 100.0
            x_pu = tr.x_pct[0] / 100.0
            r[v], x[v] = r_pu / tr.s_kva, x_pu / tr.s_kva
        elif br in reactors:
            rx = reactors[br]
            scale = 1.0 / (v_ll_kv[v] ** 2 * 1000.0)
            r[v], x[v] = rx.r_ohm * scale, rx.x_ohm * scale
    return r, x


def edge_impedance(net: Network, topo: Topology) -> tuple[FloatArray, FloatArray]:
    """Per-kW resistance and per-kvar reactance (pu of the fed bus's base) of the branch feeding
    each bus of ``topo`` (0 at the roots): the LinDistFlow edge weights, for callers that build
    their own linear models (``openderms.control``)."""
    return _edge_impedance(net, topo)


def path_matrix(topo: Topology) -> csr_matrix:
    """Sparse ``[bus, bus]`` incidence: entry (b, v) is 1 when the branch feeding v is on the
    path from the source to b (branches are named by the bus they feed)."""
    n = len(topo.bus_ids)
    rows: list[int] = []
    cols: list[int] = []
    path: list[list[int]] = [[] for _ in range(n)]
    for v in topo.preorder.tolist():
        p = int(topo.parent[v])
        path[v] = [*path[p], v] if p >= 0 else []
        rows.extend([v] * len(path[v]))
        cols.extend(path[v])
    data = np.ones(len(rows))
    return csr_matrix((data, (rows, cols)), shape=(n, n))


def lindistflow(
    net: Network,
    monitored: tuple[str, ...] | None = None,
    injection: tuple[str, ...] | None = None,
    topo: Topology | None = None,
) -> Sensitivities:
    """Fast voltage sensitivities (LinDistFlow path matrix). Defaults: every energised bus
    monitored, every bus with a DER as injection point."""
    topo = topo or derive_topology(net)
    monitored = monitored or tuple(
        b for b, e in zip(topo.bus_ids, topo.energised, strict=True) if e
    )
    injection = injection or der_buses(net)
    t = path_matrix(topo)
    r, x = _edge_impedance(net, topo)
    tm = t[[topo.index(b) for b in monitored]]
    tj = t[[topo.index(b) for b in injection]]
    dv_dp = (tm @ diags(r) @ tj.T).toarray()
    dv_dq = (tm @ diags(x) @ tj.T).toarray()
    return Sensitivities("lindistflow", monitored, injection, dv_dp, dv_dq)


def branch_flow(
    net: Network, injection: tuple[str, ...] | None = None, topo: Topology | None = None
) -> BranchSensitivities:
    """Lossless branch-flow sensitivities on the energised tree (branches named by id)."""
    topo = topo or derive_topology(net)
    injection = injection or der_buses(net)
    t = path_matrix(topo)
    fed = np.flatnonzero(topo.parent >= 0)
    tj = t[[topo.index(b) for b in injection]][:, fed]
    branch_ids = tuple(str(topo.parent_branch[v]) for v in fed.tolist())
    return BranchSensitivities(branch_ids, injection, -tj.T.toarray())


def energised_buses(topo: Topology) -> tuple[str, ...]:
    """Ids of the buses connected to a source."""
    return tuple(b for b, e in zip(topo.bus_ids, topo.energised.tolist(), strict=True) if e)


def der_buses(net: Network) -> tuple[str, ...]:
    """Distinct buses with at least one DER, in order of first appearance."""
    return tuple(dict.fromkeys(d.bus for d in net.ders))


def finite_difference(
    net: Network,
    monitored: tuple[str, ...] | None = None,
    injection: tuple[str, ...] | None = None,
    step_kw: float = 10.0,
    engine: EngineName = "auto",
) -> Sensitivities:
    """Exact sensitivities by batch finite differences: one extra three-phase injection of
    ``step_kw`` (then ``step_kw`` kvar) per injection bus, all solved in one batch."""
    topo = derive_topology(net)
    monitored = monitored or tuple(
        b for b, e in zip(topo.bus_ids, topo.energised, strict=True) if e
    )
    injection = injection or der_buses(net)
    buses = {b.id: b for b in net.buses}
    probes = tuple(
        Der(
            f"__probe_{k}",
            bus,
            _nodes_at(net, bus),
            "other",
            0.0,
            0.0,
            0.0,
            1.0,
            buses[bus].v_base_kv_ln * math.sqrt(3.0),
        )
        for k, bus in enumerate(injection)
    )
    probed = dataclasses.replace(net, ders=(*net.ders, *probes), regulators=())
    n_j, n_der = len(injection), len(net.ders)
    base_der_p = np.array([d.p_kw for d in net.ders])
    base_der_q = np.array([d.q_kvar for d in net.ders])
    steps = 1 + 2 * n_j
    der_p = np.zeros((steps, n_der + n_j))
    der_q = np.zeros((steps, n_der + n_j))
    der_p[:, :n_der] = base_der_p
    der_q[:, :n_der] = base_der_q
    der_p[1 + np.arange(n_j), n_der + np.arange(n_j)] = step_kw
    der_q[1 + n_j + np.arange(n_j), n_der + np.arange(n_j)] = step_kw
    loads_p = np.tile([ld.p_kw for ld in net.loads], (steps, 1)).astype(float)
    loads_q = np.tile([ld.q_kvar for ld in net.loads], (steps, 1)).astype(float)
    res = solve_series(probed, InjectionSeries(loads_p, loads_q, der_p, der_q), engine=engine)
    v_bus = _bus_mean(res.v_pu, res.node_bus, monitored)
    dv = (v_bus[1:] - v_bus[0]) / step_kw
    return Sensitivities("finite_difference", monitored, injection, dv[:n_j].T, dv[n_j:].T)


def _nodes_at(net: Network, bus: str) -> tuple[int, ...]:
    for d in net.ders:
        if d.bus == bus:
            return d.nodes
    return (1, 2, 3)


def _bus_mean(v_pu: FloatArray, node_bus: tuple[str, ...], buses: tuple[str, ...]) -> FloatArray:
    """Mean phase-voltage magnitude per bus, columns in ``buses`` order."""
    index = {b: k for k, b in enumerate(buses)}
    cols = np.array([index.get(b, -1) for b in node_bus])
    keep = cols >= 0
    sums = np.zeros((v_pu.shape[0], len(buses)))
    counts = np.bincount(cols[keep], minlength=len(buses)).astype(float)
    np.add.at(sums.T, cols[keep], v_pu[:, keep].T)
    out: FloatArray = sums / np.maximum(counts, 1.0)
    return out


@dataclass(frozen=True, slots=True)
class SensitivityError:
    """How far the fast sensitivities are from the exact ones (relative to the exact scale)."""

    rel_error_dv_dp: float  # ||fast - exact||_F / ||exact||_F
    rel_error_dv_dq: float
    max_abs_error_dv_dp_pu_per_kw: float
    pairs_compared: int


def compare(fast: Sensitivities, exact: Sensitivities) -> SensitivityError:
    """Error of ``fast`` against ``exact`` on the same monitored and injection buses."""
    if fast.monitored != exact.monitored or fast.injection != exact.injection:
        raise ValueError("sensitivities to compare must share monitored and injection buses")

    def rel(a: FloatArray, b: FloatArray) -> float:
        return float(np.linalg.norm(a - b)) / max(float(np.linalg.norm(b)), 1e-300)

    return SensitivityError(
        rel_error_dv_dp=rel(fast.dv_dp_pu_per_kw, exact.dv_dp_pu_per_kw),
        rel_error_dv_dq=rel(fast.dv_dq_pu_per_kvar, exact.dv_dq_pu_per_kvar),
        max_abs_error_dv_dp_pu_per_kw=float(
            np.max(np.abs(fast.dv_dp_pu_per_kw - exact.dv_dp_pu_per_kw))
        ),
        pairs_compared=int(fast.dv_dp_pu_per_kw.size),
    )
