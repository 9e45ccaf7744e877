"""Pictures an operator or planner wants: the network coloured by voltage, the voltage
profile along each feeder, and a day of substation load and voltage extremes.

Uses matplotlib's object API (``Figure``), never pyplot's global state, and writes PNG.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from numpy.typing import NDArray

from openderms.grid.model import Network
from openderms.grid.powerflow import PowerFlowResult, SeriesResult
from openderms.grid.topology import Topology


def distance_from_source_km(net: Network, topo: Topology) -> NDArray[np.float64]:
    """Electrical path length from the source to every bus along lines (NaN if dead)."""
    length = {ln.id: ln.length_km for ln in net.lines}
    dist = np.full(len(topo.bus_ids), np.nan)
    for v in topo.preorder.tolist():
        p = int(topo.parent[v])
        br = topo.parent_branch[v]
        dist[v] = 0.0 if p < 0 else dist[p] + length.get(br or "", 0.0)
    return dist


def _bus_v_max(topo: Topology, result: PowerFlowResult) -> NDArray[np.float64]:
    v = np.full(len(topo.bus_ids), np.nan)
    for bus, vm in zip(result.node_bus, result.v_pu.tolist(), strict=True):
        i = topo.bus_index.get(bus)
        if i is not None and vm > 0 and not math.isnan(vm):
            v[i] = vm if math.isnan(v[i]) else max(v[i], vm)
    return v


def plot_network_state(
    net: Network, topo: Topology, result: PowerFlowResult, path: Path, title: str
) -> Path:
    """Map coloured by voltage (when buses have coordinates) and voltage vs distance."""
    v = _bus_v_max(topo, result)
    dist = distance_from_source_km(net, topo)
    has_xy = sum(b.x is not None for b in net.buses) > 0.8 * len(net.buses)
    fig = Figure(figsize=(15, 6.5) if has_xy else (9, 6.5), layout="constrained")
    axes = fig.subplots(1, 2 if has_xy else 1, squeeze=False)[0]
    norm = TwoSlopeNorm(vmin=0.94, vcenter=1.0, vmax=1.06)
    cmap = "RdYlBu_r"
    v_lo = min(b.v_min_pu for b in net.buses) if net.buses else 0.95
    v_hi = max(b.v_max_pu for b in net.buses) if net.buses else 1.05

    if has_xy:
        ax = axes[0]
        xy = np.array([(b.x or np.nan, b.y or np.nan) for b in net.buses])
        segs, colours = [], []
        for br in topo.branches:
            segs.append([xy[br.a], xy[br.b]])
            colours.append(np.nanmax([v[br.a], v[br.b]]))
        lc = LineCollection(segs, cmap=cmap, norm=norm, linewidths=1.2)
        lc.set_array(np.asarray(colours))
        ax.add_collection(lc)
        buses = {b.id: i for i, b in enumerate(net.buses)}
        for sw in net.switches:
            if not sw.closed and sw.bus1 in buses and sw.bus2 in buses:
                a, b = xy[buses[sw.bus1]], xy[buses[sw.bus2]]
                ax.plot([a[0], b[0]], [a[1], b[1]], ls=":", c="grey", lw=1)
        over = v > v_hi
        ax.scatter(xy[over, 0], xy[over, 1], s=6, c="crimson", label=f"bus > {v_hi:.2f} pu")
        for s in net.sources:
            if s.bus in buses:
                ax.scatter(*xy[buses[s.bus]], marker="s", s=80, c="black", label="substation")
        ax.autoscale()
        ax.set_aspect("equal")
        ax.set_title("Network, coloured by highest phase voltage")
        ax.set_xlabel("x (m)")
        ax.set_ylabel("y (m)")
        ax.legend(loc="upper right", fontsize=8)
        fig.colorbar(lc, ax=ax, label="voltage (pu)", shrink=0.8)

    ax = axes[-1]
    feeders = sorted({f for f in topo.feeder if f is not None})
    groups: Sequence[str | None] = feeders or [None]
    for f in groups:
        idx = [i for i, fb in enumerate(topo.feeder) if fb == f or f is None]
        idx = [i for i in idx if not math.isnan(v[i]) and not math.isnan(dist[i])]
        ax.scatter(dist[idx], v[idx], s=4, label=f or "all buses")
    ax.axhline(v_hi, c="crimson", ls="--", lw=1)
    ax.axhline(v_lo, c="crimson", ls="--", lw=1)
    ax.set_xlabel("distance from substation along the lines (km)")
    ax.set_ylabel("highest phase voltage (pu)")
    ax.set_title("Voltage profile by feeder")
    ax.grid(alpha=0.3)
    if len(groups) > 1:
        ax.legend(fontsize=8, markerscale=3, ncol=2)
    fig.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def plot_day(
    timestamps: Sequence[datetime],
    series: SeriesResult,
    path: Path,
    title: str,
    *,
    v_max_pu: float = 1.05,
    v_min_pu: float = 0.95,
) -> Path:
    """Substation net load and the highest and lowest voltage over a day."""
    fig = Figure(figsize=(11, 6), layout="constrained")
    ax_p, ax_v = fig.subplots(2, 1, sharex=True)
    t = list(timestamps)
    ax_p.plot(t, series.substation_p_kw / 1000.0, c="black")
    ax_p.axhline(0.0, c="grey", lw=0.8)
    ax_p.set_ylabel("substation import (MW)\nnegative = reverse flow")
    ax_p.grid(alpha=0.3)
    v = np.where(series.v_pu > 0, series.v_pu, np.nan)
    ax_v.plot(t, np.nanmax(v, axis=1), c="crimson", label="highest bus voltage")
    ax_v.plot(t, np.nanmin(v, axis=1), c="navy", label="lowest bus voltage")
    ax_v.axhline(v_max_pu, c="crimson", ls="--", lw=1)
    ax_v.axhline(v_min_pu, c="navy", ls="--", lw=1)
    ax_v.set_ylabel("voltage (pu)")
    ax_v.set_xlabel("time (UTC)")
    ax_v.legend(fontsize=8)
    ax_v.grid(alpha=0.3)
    fig.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
