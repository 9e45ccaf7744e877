"""Regulated zones in the hosting screen.

A regulator (an on-load tap changer, a line regulator) holds its bus inside its band: while
the bus stays inside, the tap does not move and the bus drifts with what DER do upstream of
it; once it would leave, the tap moves and brings it back. So for a bus m below regulated bus
r (its zone), an injection of P kW at bus j changes the voltage by::

    z[m, j] * P  +  min(u[r, j] * P, room left in r's band)

where ``z`` is LinDistFlow's sensitivity relative to r (``dv[m, j] - dv[r, j]``: only the
path below r that m and j share) and ``u`` the drift of r itself (``dv[r, j]`` relative to
the regulated bus above r, if any). The band is the regulator's set point +- half its band
width, in pu of the bus base (line-drop compensation ignored). The drift is tracked in the
direction of the limit (rise for export, drop for import) and summed over all grants, so one
feeder uses the room the bank's band leaves for every feeder of that bank, and no more.

Buses with no regulator above them (and every bus when the rule is off) keep the plain
LinDistFlow sensitivity. Arrays are over the monitored (energised) buses, in order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from openderms.grid.model import Network
from openderms.grid.topology import Topology

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Zones:
    """Which regulated bus each monitored bus sits below, and the regulators' bands."""

    zone: IntArray  # per monitored bus: position of its regulated bus, or n_mon (none)
    reg_pos: IntArray  # monitored positions of the regulated buses
    zone_reg: IntArray  # per monitored bus: index into ``reg_pos``, or len(reg_pos) (none)
    above: IntArray  # per regulated bus: position of the regulated bus above it, or n_mon
    band_lo_pu: FloatArray  # per regulated bus
    band_hi_pu: FloatArray
    order: IntArray  # monitored buses grouped by ``zone_reg`` ...
    starts: IntArray  # ... and where each regulated bus's group starts in ``order``

    @property
    def n_regs(self) -> int:
        return len(self.reg_pos)


def regulated_zones(
    net: Network, topo: Topology, mon_pos: Mapping[str, int], enabled: bool
) -> Zones:
    """The zones of ``net``'s regulators over the monitored buses (see the module doc)."""
    n_mon = len(mon_pos)
    bands = _bands(net, topo) if enabled else {}
    anchor = np.full(len(topo.bus_ids), -1, dtype=np.int64)
    for v in topo.preorder.tolist():
        p = int(topo.parent[v])
        anchor[v] = v if v in bands else (anchor[p] if p >= 0 else -1)
    zone = np.full(n_mon, n_mon, dtype=np.int64)
    for bus, k in mon_pos.items():
        a = int(anchor[topo.bus_index[bus]])
        if a >= 0 and topo.bus_ids[a] in mon_pos:
            zone[k] = mon_pos[topo.bus_ids[a]]
    bus_of = {k: bus for bus, k in mon_pos.items()}
    regs = sorted(set(zone[zone < n_mon].tolist()))
    reg_pos = np.array(regs, dtype=np.int64)
    index = {pos: k for k, pos in enumerate(regs)}
    zone_reg = np.array([index.get(int(z), len(regs)) for z in zone], dtype=np.int64)
    above = np.full(len(regs), n_mon, dtype=np.int64)
    lo = np.empty(len(regs))
    hi = np.empty(len(regs))
    for k, pos in enumerate(regs):
        i = topo.index(bus_of[pos])
        lo[k], hi[k] = bands[i]
        p = int(topo.parent[i])
        if p >= 0 and anchor[p] >= 0 and topo.bus_ids[int(anchor[p])] in mon_pos:
            above[k] = mon_pos[topo.bus_ids[int(anchor[p])]]
    order = np.argsort(zone_reg[zone_reg < len(regs)], kind="stable")
    order = np.flatnonzero(zone_reg < len(regs))[order]
    starts = np.searchsorted(zone_reg[order], np.arange(len(regs)))
    return Zones(zone, reg_pos, zone_reg, above, lo, hi, order, starts.astype(np.int64))


def _bands(net: Network, topo: Topology) -> dict[int, tuple[float, float]]:
    """Per regulated bus (topology index): the (low, high) pu its regulator tolerates."""
    buses = {b.id: b for b in net.buses}
    windings = {t.id: t.windings for t in net.transformers}
    out: dict[int, tuple[float, float]] = {}
    for r in net.regulators:
        ws = windings.get(r.transformer)
        if ws is None or not 0 < r.winding <= len(ws) or ws[r.winding - 1].bus not in buses:
            continue
        w = ws[r.winding - 1]
        v_base_v = buses[w.bus].v_base_kv_ln * 1000.0 * (math.sqrt(3.0) if w.conn == "delta" else 1)
        lo = (r.v_set_v - r.band_v / 2) * r.pt_ratio / v_base_v
        hi = (r.v_set_v + r.band_v / 2) * r.pt_ratio / v_base_v
        i = topo.index(w.bus)
        old = out.get(i, (lo, hi))
        out[i] = (max(lo, old[0]), min(hi, old[1]))
    return out


def split(zones: Zones, dv: FloatArray) -> FloatArray:
    """Make ``dv`` (``[monitored, injections]``, pu per kW) relative to each monitored bus's
    regulated bus, in place, and return the drift ``u`` of the regulated buses
    (``[regulated bus, injections]``, relative to the regulated bus above each)."""
    n_mon = dv.shape[0]
    ext = np.vstack([dv, np.zeros((1, dv.shape[1]))])
    u: FloatArray = np.maximum(ext[zones.reg_pos] - ext[zones.above], 0.0)
    held = zones.zone < n_mon
    dv[held] -= dv[zones.zone[held]]
    return u


def zone_minima(zones: Zones, head_pu: FloatArray) -> tuple[FloatArray, IntArray]:
    """The least room (pu) over each regulated bus's zone, and the monitored bus holding it."""
    if not zones.n_regs:
        return np.empty(0), np.empty(0, dtype=np.int64)
    grouped = head_pu[zones.order]
    mins = np.minimum.reduceat(grouped, zones.starts)
    ends = [*zones.starts[1:].tolist(), len(grouped)]
    pairs = zip(zones.starts.tolist(), ends, strict=True)
    where = np.array(
        [int(zones.order[s + int(np.argmin(grouped[s:e]))]) for s, e in pairs], dtype=np.int64
    )
    return mins, where


def piecewise_kw(head: FloatArray, z: FloatArray, u: FloatArray, rem: FloatArray) -> FloatArray:
    """Injection (kW) that uses up ``head`` pu when each kW adds ``z`` directly and ``u`` of
    drift until the drift has used its ``rem`` pu (all arrays alike; ``z`` > 0)."""
    first = head / (z + u)
    return np.where(u * first <= rem, first, (head - rem) / z)


def voltage_capacity(
    zones: Zones,
    *,
    head: Callable[[IntArray | slice], FloatArray],
    drift_pu: FloatArray,
    room_pu: FloatArray,
    idx: IntArray,
    col: FloatArray,
    u: FloatArray,
) -> tuple[int, float]:
    """The monitored bus whose limit an injection reaches first and the kW that takes (-1
    and infinity when it moves nothing): the buses it moves directly (``idx``, by ``col``
    pu/kW) and, through the drift ``u`` of their regulated bus, every bus of a zone whose
    band has room left. ``head(at)`` is the room (pu) of monitored buses ``at`` before the
    drift; ``drift_pu``/``room_pu`` are per regulated bus with a last 0 for "none"."""
    shift = np.minimum(drift_pu, room_pu)
    rem = room_pu - shift
    m, cap = -1, math.inf
    if len(idx):
        r = zones.zone_reg[idx]
        kw = piecewise_kw(head(idx) - shift[r], col, u[r], rem[r])
        k = int(np.argmin(kw))
        m, cap = int(idx[k]), float(kw[k])
    drifting = (u[:-1] > 1e-12) & (rem[:-1] > 0.0)
    if drifting.any():
        mins, where = zone_minima(zones, head(slice(None)) - shift[zones.zone_reg])
        for r_ in np.flatnonzero(drifting & (rem[:-1] > mins)).tolist():
            kw_r = max(float(mins[r_]), 0.0) / float(u[r_])
            if kw_r < cap:
                m, cap = int(where[r_]), kw_r
    return m, max(cap, 0.0)
