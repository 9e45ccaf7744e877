"""The LinDistFlow model of one topology, shaped for dispatch: built once per switch state.

``LinearGrid.build(net, topo)`` takes a few tens of ms on a 4,000-bus substation; callers keep
it until the topology changes (a switching action). It knows, on the energised spanning tree:

- the edge weights: ``r_pu_per_kw``/``x_pu_per_kvar`` of the branch feeding each bus, so a kW
  exported at bus j raises the voltage at bus m by the sum of ``r`` over the branches both
  paths from the source share (``voltage_rows``), and a kvar exported by the sum of ``x``;
- the injection columns: the distinct energised buses carrying DER, sorted in depth-first
  pre-order so the DER downstream of any bus are one contiguous range of columns
  (``col_range``), which makes branch-flow rows (a branch carries every kW exported behind it,
  lossless) and subtree sums cheap;
- each tree branch's fed bus and orientation (``+1`` when its terminal 1 is the source side),
  so a power-flow result's ``p_from_kw`` turns into the flow away from the source.

Signs: injections in generator convention (positive = export); ``dv`` positive = voltage rise;
branch flows positive away from the source.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix

from openderms.control.types import FloatArray, IntArray, sum_by
from openderms.control.violations import BusVoltages, bus_voltages
from openderms.grid.model import Network
from openderms.grid.powerflow import PowerFlowResult
from openderms.grid.sensitivity import edge_impedance
from openderms.grid.topology import Topology, derive_topology


@dataclass(frozen=True, slots=True, eq=False)
class LinearGrid:
    """LinDistFlow sensitivities of one network topology (see the module docstring)."""

    topology: Topology
    r_pu_per_kw: FloatArray  # per bus: resistance of the branch feeding it
    x_pu_per_kvar: FloatArray
    path: csr_matrix  # [bus, bus]: 1 where the branch feeding column-bus is on row-bus's path
    col_bus: IntArray  # bus index of each injection column (pre-order)
    col_start: IntArray  # per bus: first column downstream of it (inclusive)
    col_end: IntArray  # per bus: end of its downstream columns (exclusive)
    der_col: IntArray  # per DER of the network: its column, -1 when de-energised
    branch_bus: Mapping[str, int]  # tree branch id -> the bus it feeds
    branch_orient: Mapping[str, int]  # +1: terminal 1 on the source side, else -1
    roots: IntArray  # energised source buses
    v_min_pu: FloatArray  # per-bus limits
    v_max_pu: FloatArray
    build_s: float

    @property
    def n_cols(self) -> int:
        return len(self.col_bus)

    @classmethod
    def build(cls, net: Network, topo: Topology | None = None) -> LinearGrid:
        """Build for ``net`` under its present switch states (``topo`` if already derived)."""
        t0 = time.perf_counter()
        topo = topo or derive_topology(net)
        r, x = edge_impedance(net, topo)
        path = _path_matrix(topo)
        der_bus = np.array([topo.der_bus[d.id] for d in net.ders], dtype=np.int64)
        ok = der_bus >= 0
        ok[ok] = topo.energised[der_bus[ok]]
        buses = np.unique(der_bus[ok])
        col_bus = buses[np.argsort(topo.position[buses])]
        col_pos = topo.position[col_bus]
        pos = topo.position
        live = pos >= 0
        col_start = np.zeros(len(topo.bus_ids), dtype=np.int64)
        col_end = np.zeros(len(topo.bus_ids), dtype=np.int64)
        col_start[live] = np.searchsorted(col_pos, pos[live], side="left")
        col_end[live] = np.searchsorted(col_pos, pos[live] + topo.subtree_size[live], side="left")
        col_of_bus = np.full(len(topo.bus_ids), -1, dtype=np.int64)
        col_of_bus[col_bus] = np.arange(len(col_bus))
        der_col = np.where(ok, col_of_bus[np.maximum(der_bus, 0)], -1)
        branch_bus: dict[str, int] = {}
        orient: dict[str, int] = {}
        for br in topo.branches:
            if topo.parent_branch[br.b] == br.id and topo.parent[br.b] == br.a:
                branch_bus[br.id], orient[br.id] = br.b, 1
            elif topo.parent_branch[br.a] == br.id and topo.parent[br.a] == br.b:
                branch_bus[br.id], orient[br.id] = br.a, -1
        roots = np.flatnonzero(live & (topo.parent < 0))
        return cls(
            topology=topo,
            r_pu_per_kw=r,
            x_pu_per_kvar=x,
            path=path,
            col_bus=col_bus,
            col_start=col_start,
            col_end=col_end,
            der_col=der_col,
            branch_bus=branch_bus,
            branch_orient=orient,
            roots=roots,
            v_min_pu=np.array([b.v_min_pu for b in net.buses]),
            v_max_pu=np.array([b.v_max_pu for b in net.buses]),
            build_s=time.perf_counter() - t0,
        )

    def voltage_rows(self, buses: IntArray) -> tuple[FloatArray, FloatArray]:
        """Dense ``(dv_dp_pu_per_kw, dv_dq_pu_per_kvar)``, ``[len(buses), n_cols]``.

        Entry (m, j) is the sum of ``r`` (``x``) over the branches shared by the paths of bus
        ``buses[m]`` and column ``j``: every ancestor edge of the row bus adds its weight to the
        contiguous columns below it (a difference array, then a cumulative sum).
        """
        sub = self.path[np.asarray(buses, dtype=np.int64)]
        n_rows, width = len(buses), self.n_cols + 1
        rows = np.repeat(np.arange(n_rows), np.diff(sub.indptr))
        edges = sub.indices
        at = np.concatenate(
            [rows * width + self.col_start[edges], rows * width + self.col_end[edges]]
        )
        out: list[FloatArray] = []
        for w in (self.r_pu_per_kw, self.x_pu_per_kvar):
            diff = sum_by(at, np.concatenate([w[edges], -w[edges]]), n_rows * width)
            out.append(np.cumsum(diff.reshape(n_rows, width), axis=1)[:, :-1])
        return out[0], out[1]

    def col_range(self, bus: int) -> tuple[int, int]:
        """Columns downstream of ``bus`` (itself included): ``range(start, end)``."""
        return int(self.col_start[bus]), int(self.col_end[bus])

    def ancestors(self, buses: IntArray) -> IntArray:
        """Every bus whose feeding branch lies on the path of one of ``buses`` (sorted)."""
        sub = self.path[np.asarray(buses, dtype=np.int64)]
        return np.unique(sub.indices)

    def attach(self, in_tree: np.ndarray) -> IntArray:
        """Per column: the deepest bus of its path (itself included) with ``in_tree`` set, or
        -1 when none is (the column then hangs directly off a root)."""
        sub = self.path[self.col_bus]
        depth = self.topology.depth
        n = len(depth)
        keys = np.where(in_tree[sub.indices], depth[sub.indices] * n + sub.indices, -1)
        out = np.full(self.n_cols, -1, dtype=np.int64)
        counts = np.diff(sub.indptr)
        has = counts > 0
        if keys.size:
            best = np.maximum.reduceat(keys, sub.indptr[:-1][has])
            out[has] = np.where(best >= 0, best % n, -1)
        return out

    def subtree_sum(self, col_values: FloatArray) -> FloatArray:
        """Per bus: the sum of ``col_values`` over the columns downstream of it."""
        c = np.concatenate(([0.0], np.cumsum(col_values)))
        out: FloatArray = c[self.col_end] - c[self.col_start]
        return out

    def dv_pu(self, dp_col_kw: FloatArray, dq_col_kvar: FloatArray) -> FloatArray:
        """Per bus: voltage change from extra export ``dp``/``dq`` at the injection columns."""
        drop = self.r_pu_per_kw * self.subtree_sum(dp_col_kw)
        drop += self.x_pu_per_kvar * self.subtree_sum(dq_col_kvar)
        out: FloatArray = self.path @ drop
        return out


@dataclass(frozen=True, slots=True, eq=False)
class Prediction:
    """Linear prediction of per-bus voltages, branch loadings and the substation flow."""

    voltages: BusVoltages
    loading_pct: FloatArray  # aligned with the result's ``branch_ids``
    substation_p_kw: float


@dataclass(frozen=True, slots=True, eq=False)
class OperatingPoint:
    """An AC power-flow result seen through a ``LinearGrid``: a linearisation point.

    Tree-branch flows are oriented away from the source (``p_down_kw``); predictions add the
    linear change of export at the injection columns to this point (AC-calibrated offsets).
    """

    result: PowerFlowResult
    voltages: BusVoltages
    branch_index: IntArray  # result column of each tree branch
    branch_bus: IntArray  # the bus it feeds
    p_down_kw: FloatArray
    q_down_kvar: FloatArray
    loading_pct: FloatArray

    @classmethod
    def from_result(cls, lg: LinearGrid, net: Network, result: PowerFlowResult) -> OperatingPoint:
        """Map ``result`` (a power flow of ``net`` under ``lg``'s topology) onto the tree."""
        idx, bus, orient = [], [], []
        for k, bid in enumerate(result.branch_ids):
            b = lg.branch_bus.get(bid)
            if b is not None:
                idx.append(k)
                bus.append(b)
                orient.append(lg.branch_orient[bid])
        index = np.asarray(idx, dtype=np.int64)
        sign = np.asarray(orient, dtype=np.float64)
        return cls(
            result=result,
            voltages=bus_voltages(result, net),
            branch_index=index,
            branch_bus=np.asarray(bus, dtype=np.int64),
            p_down_kw=sign * result.p_from_kw[index],
            q_down_kvar=sign * result.q_from_kvar[index],
            loading_pct=result.loading_pct[index],
        )

    def s_limit_kva(self, branches: IntArray, limit_pct: float, v_margin_pu: float) -> FloatArray:
        """Apparent power at which each tree branch reaches ``limit_pct`` of its rating, once
        its fed bus is back inside its voltage limits (``v_margin_pu`` inside): loading is
        current-based, so a bus brought down from overvoltage carries the same power with
        more current."""
        v = self.voltages
        bus = self.branch_bus[branches]
        v_now = v.v_max_pu[bus]
        v_to = np.clip(v_now, v.limit_min_pu[bus] + v_margin_pu, v.limit_max_pu[bus] - v_margin_pu)
        factor = np.where(np.isfinite(v_now), np.minimum(v_to / v_now, 1.0), 1.0)
        s0 = np.hypot(self.p_down_kw[branches], self.q_down_kvar[branches])
        out: FloatArray = limit_pct / np.maximum(self.loading_pct[branches], 1e-9) * s0 * factor
        return out

    def var_headroom_kvar(
        self, lg: LinearGrid, limit_pct: float, v_margin_pu: float
    ) -> tuple[FloatArray, FloatArray]:
        """Per injection column: vars it may inject / absorb before the branch feeding its bus
        reaches ``limit_pct`` of its rating at today's active flow (absorbing raises the flow
        of vars towards the bus). Unbounded (inf) where that branch is not a tree branch."""
        bus_branch = np.full(len(lg.topology.bus_ids), -1, dtype=np.int64)
        bus_branch[self.branch_bus] = np.arange(len(self.branch_bus))
        k = bus_branch[lg.col_bus]
        kk = np.maximum(k, 0)
        p0, q0 = self.p_down_kw[kk], self.q_down_kvar[kk]
        s_lim = self.s_limit_kva(kk, limit_pct, v_margin_pu)
        root = np.sqrt(np.maximum(s_lim**2 - p0**2, 0.0))
        has = k >= 0
        return (
            np.where(has, np.maximum(root + q0, 0.0), np.inf),
            np.where(has, np.maximum(root - q0, 0.0), np.inf),
        )

    def predict(self, lg: LinearGrid, dp_col_kw: FloatArray, dq_col_kvar: FloatArray) -> Prediction:
        """Voltages, loadings and substation flow after extra export ``dp``/``dq`` per column.

        Loadings are current-based: they scale with the apparent power of the linearly changed
        flows (exact in the flows, so a reversal is seen) over the fed bus's voltage. The
        substation flow is lossless.
        """
        dv = lg.dv_pu(dp_col_kw, dq_col_kvar)
        v = self.voltages
        sp = lg.subtree_sum(dp_col_kw)[self.branch_bus]
        sq = lg.subtree_sum(dq_col_kvar)[self.branch_bus]
        s0 = np.hypot(self.p_down_kw, self.q_down_kvar)
        s1 = np.hypot(self.p_down_kw - sp, self.q_down_kvar - sq)
        v0 = v.v_max_pu[self.branch_bus]
        v_ratio = np.where(np.isfinite(v0), v0 / (v0 + dv[self.branch_bus]), 1.0)
        loading = self.result.loading_pct.copy()
        loading[self.branch_index] = np.where(
            s0 > 1e-9,
            self.loading_pct * s1 / np.where(s0 > 1e-9, s0, 1.0) * v_ratio,
            self.loading_pct,
        )
        return Prediction(
            voltages=BusVoltages(v.v_min_pu + dv, v.v_max_pu + dv, v.limit_min_pu, v.limit_max_pu),
            loading_pct=loading,
            substation_p_kw=self.result.substation_p_kw - float(np.sum(dp_col_kw)),
        )


def _path_matrix(topo: Topology) -> csr_matrix:
    """``[bus, bus]``: entry (b, v) = 1 when the branch feeding v is on the path to b.

    Built column by column from the pre-order: the buses below v are one slice of it.
    """
    n = len(topo.bus_ids)
    fed = np.flatnonzero(topo.parent >= 0)
    starts = topo.position[fed]
    sizes = topo.subtree_size[fed]
    total = int(sizes.sum())
    offsets = np.repeat(np.cumsum(sizes) - sizes, sizes)
    idx = np.repeat(starts, sizes) + (np.arange(total) - offsets)
    rows = topo.preorder[idx]
    cols = np.repeat(fed, sizes)
    return csr_matrix((np.ones(total), (rows, cols)), shape=(n, n))
