"""Network -> power-grid-model input arrays, and the index maps to read results back.

Mapping (OpenDSS semantics are the reference, see DESIGN.md):

- ``Bus`` -> ``node`` with ``u_rated`` = line-to-line base (V); per-unit results are then on the
  bus's ``v_base_kv_ln``.
- ``Source`` -> ``source``: ``u_ref`` from ``v_pu``·``v_base_kv_ll`` over the bus base,
  ``sk`` = u_rated²/|Z1|, ``rx_ratio`` = R1/X1, ``z01_ratio`` = |Z0|/|Z1| (PGM gives Z0 the angle
  of Z1; only the asymmetric calculation sees it).
- ``Line`` -> ``asym_line`` with the phase matrices times length. Shunt capacitance is passed
  unchanged: the model is built with ``system_frequency = net.frequency_hz``.
- ``Switch`` -> ``link`` (status from ``closed``), or a ``line`` when it has ``r_ohm``/``x_ohm``;
  ``Reactor`` -> ``line`` (series) or ``shunt``; ``Capacitor`` -> ``shunt`` (grounded wye:
  B0 = B1; delta: B0 = 0).
- ``Transformer`` -> ``transformer`` / ``three_winding_transformer``; wye windings are grounded
  (``wye_n``, as OpenDSS grounds ``bus.1.2.3``), delta-wye pairs get clock 1 (OpenDSS: winding k
  lags winding 1 by 30°). Fixed taps are folded exactly into ``u1``/``u2``; a regulated winding
  gets integer positions ``k`` with ``u = v_kv·(tap_pu + k·step)``, so position 0 is the
  model's tap. ``r_pct`` and ``x_pct`` become PGM's ``uk``/``pk``; a three-winding star is set
  so that PGM's magnitude-based delta-star conversion yields exactly OpenDSS's complex star
  impedances. OpenDSS (and so this mapping) takes every ``r_pct`` and ``x_pct`` on winding 1's
  kVA. The magnetising branch (``imag_pct``, ``noload_loss_pct``) is a shunt at winding 2's bus,
  where OpenDSS connects it (PGM would split it between the terminals).
- ``Load`` -> up to three ``sym_load`` rows (constant power, current, impedance) whose
  coefficients follow the load's model and OpenDSS's voltage regions (``pgm_loads``).
- ``Der`` -> ``sym_gen`` (generator convention: positive ``p_kw`` injects).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from power_grid_model import (
    ComponentType,
    DatasetType,
    LoadGenType,
    WindingType,
    initialize_array,
)

from openderms.grid.engines.pgm_loads import NORMAL, LoadRows, LoadTable, load_table, specified
from openderms.grid.engines.pgm_regulators import RegulatorMap, regulator_map
from openderms.grid.engines.pgm_types import SQRT3, BoolArray, FloatArray, IntArray, PgmArray
from openderms.grid.model import Matrix, Network, Transformer, Winding


@dataclass(frozen=True, slots=True)
class PgmConversion:
    """PGM input dataset of one Network and the maps between its rows and our ids.

    Node rows follow ``net.buses``; sym_gen rows follow ``net.ders``. ``data`` has no
    ``sym_load``: its rows vary (``pgm_loads.LoadRows``, built by ``sym_loads``). A switch is
    a ``link`` when ideal, else a ``line`` row after the series reactors (``switch_is_link`` /
    ``switch_row``).
    """

    data: dict[ComponentType, PgmArray]
    frequency_hz: float
    bus_ids: tuple[str, ...]
    bus_u_rated_v: FloatArray
    loads: LoadTable
    load_node_row: IntArray
    load_p_kw: FloatArray
    load_q_kvar: FloatArray
    load_first_id: int
    der_pgm_id: IntArray
    switch_is_link: BoolArray
    switch_row: IntArray
    switch_ampacity_a: FloatArray
    reactor_series: IntArray  # net.reactors indices of series reactors (first PGM line rows)
    transformer_two: IntArray  # net.transformers indices of two-winding ones
    transformer_three: IntArray  # ... and of three-winding ones
    transformer_rated_a: FloatArray  # [n_transformers, 3] rated line current per winding
    core_shunt_row: IntArray  # per transformer: shunt row of its core (at winding 2), or -1
    regulators: RegulatorMap


class _Ids:
    """Hands out the unique integer ids PGM wants across all components."""

    def __init__(self) -> None:
        self.next = 0

    def take(self, n: int) -> IntArray:
        out = np.arange(self.next, self.next + n, dtype=np.int64)
        self.next += n
        return out


def _array(component: ComponentType, n: int, ids: _Ids) -> PgmArray:
    arr = initialize_array(DatasetType.input, component, n)
    arr["id"] = ids.take(n)
    return arr


def convert(net: Network) -> PgmConversion:
    """Build the PGM input of ``net`` (which must pass ``unsupported_reasons``)."""
    ids = _Ids()
    bus_ids = tuple(b.id for b in net.buses)
    bus_row = {b: i for i, b in enumerate(bus_ids)}
    u_rated = np.array([b.v_base_kv_ln for b in net.buses], dtype=np.float64) * SQRT3 * 1e3
    data: dict[ComponentType, PgmArray] = {}

    node = _array(ComponentType.node, len(bus_ids), ids)
    node["u_rated"] = u_rated
    data[ComponentType.node] = node
    data[ComponentType.source] = _sources(net, bus_row, u_rated, ids)
    data[ComponentType.asym_line] = _lines(net, bus_row, ids)

    is_link = np.array([s.r_ohm == 0.0 and s.x_ohm == 0.0 for s in net.switches], dtype=bool)
    link = _array(ComponentType.link, int(is_link.sum()), ids)
    ideal = [s for s, k in zip(net.switches, is_link.tolist(), strict=True) if k]
    link["from_node"] = [bus_row[s.bus1] for s in ideal]
    link["to_node"] = [bus_row[s.bus2] for s in ideal]
    link["from_status"] = link["to_status"] = [int(s.closed) for s in ideal]
    data[ComponentType.link] = link

    two = np.array([i for i, t in enumerate(net.transformers) if len(t.windings) == 2], np.int64)
    three = np.array([i for i, t in enumerate(net.transformers) if len(t.windings) == 3], np.int64)
    regulated = {r.transformer: r.winding for r in net.regulators}
    data[ComponentType.transformer] = _transformers(net, two, regulated, bus_row, ids)
    data[ComponentType.three_winding_transformer] = _three_winding(net, three, bus_row, ids)

    series = np.array([i for i, r in enumerate(net.reactors) if r.bus2 is not None], np.int64)
    data[ComponentType.line] = _series_lines(net, series, ~is_link, bus_row, ids)
    switch_row = np.zeros(len(net.switches), dtype=np.int64)
    switch_row[is_link] = np.arange(int(is_link.sum()))
    switch_row[~is_link] = len(series) + np.arange(int((~is_link).sum()))
    data[ComponentType.shunt], core_row = _shunts(net, bus_row, ids)

    gen = _array(ComponentType.sym_gen, len(net.ders), ids)
    gen["node"] = [bus_row[d.bus] for d in net.ders]
    gen["status"] = 1
    gen["type"] = LoadGenType.const_power
    gen["p_specified"] = [d.p_kw * 1e3 for d in net.ders]
    gen["q_specified"] = [d.q_kvar * 1e3 for d in net.ders]
    data[ComponentType.sym_gen] = gen

    load_node = np.array([bus_row[ld.bus] for ld in net.loads], dtype=np.int64)
    table = load_table(net.loads, u_rated[load_node])
    return PgmConversion(
        data=data,
        frequency_hz=net.frequency_hz,
        bus_ids=bus_ids,
        bus_u_rated_v=u_rated,
        loads=table,
        load_node_row=load_node,
        load_p_kw=np.array([ld.p_kw for ld in net.loads], dtype=np.float64),
        load_q_kvar=np.array([ld.q_kvar for ld in net.loads], dtype=np.float64),
        load_first_id=ids.next,  # sym_load rows take ids from here on (their count varies)
        der_pgm_id=gen["id"].astype(np.int64),
        switch_is_link=is_link,
        switch_row=switch_row,
        switch_ampacity_a=np.array([s.ampacity_a for s in net.switches], dtype=np.float64),
        reactor_series=series,
        transformer_two=two,
        transformer_three=three,
        transformer_rated_a=_rated_a(net),
        core_shunt_row=core_row,
        regulators=regulator_map(
            net,
            two,
            data[ComponentType.transformer],
            bus_row,
            shunts=data[ComponentType.shunt],
            core_row=core_row,
        ),
    )


def sym_loads(conv: PgmConversion, rows: LoadRows) -> PgmArray:
    """The ``sym_load`` input array for the given row set, at the loads' model values."""
    arr = initialize_array(DatasetType.input, ComponentType.sym_load, rows.n_rows)
    arr["id"] = conv.load_first_id + np.arange(rows.n_rows)
    arr["node"] = conv.load_node_row[rows.load]
    arr["status"] = 1
    arr["type"] = rows.kind
    region = np.full((1, len(conv.load_p_kw)), NORMAL, dtype=np.int64)
    p_w, q_var = specified(conv.loads, rows, region, conv.load_p_kw[None], conv.load_q_kvar[None])
    arr["p_specified"] = p_w[0]
    arr["q_specified"] = q_var[0]
    return arr


def _rated_a(net: Network) -> FloatArray:
    """Rated line current of every winding (kVA over √3·kV, as OpenDSS rates it); NaN if none."""
    out = np.full((len(net.transformers), 3), np.nan)
    for i, tr in enumerate(net.transformers):
        for k, w in enumerate(tr.windings[:3]):
            out[i, k] = w.s_kva / (SQRT3 * w.v_kv)
    return out


def _sources(net: Network, bus_row: dict[str, int], u_rated: FloatArray, ids: _Ids) -> PgmArray:
    src = _array(ComponentType.source, len(net.sources), ids)
    for i, s in enumerate(net.sources):
        row = bus_row[s.bus]
        z1 = math.hypot(s.r1_ohm, s.x1_ohm)
        z0 = math.hypot(s.r0_ohm, s.x0_ohm)
        src["node"][i] = row
        src["u_ref"][i] = s.v_pu * s.v_base_kv_ll * 1e3 / u_rated[row]
        src["u_ref_angle"][i] = math.radians(s.angle_deg)
        src["sk"][i] = u_rated[row] ** 2 / z1 if z1 > 0 else 1e15
        src["rx_ratio"][i] = s.r1_ohm / s.x1_ohm if s.x1_ohm > 0 else 0.0
        src["z01_ratio"][i] = z0 / z1 if z1 > 0 and z0 > 0 else 1.0
    src["status"] = 1
    return src


def _lines(net: Network, bus_row: dict[str, int], ids: _Ids) -> PgmArray:
    n = len(net.lines)
    arr = _array(ComponentType.asym_line, n, ids)
    if n == 0:
        return arr
    length = np.array([ln.length_km for ln in net.lines], dtype=np.float64)[:, None, None]
    r = _stack([ln.r_ohm_per_km for ln in net.lines]) * length
    x = _stack([ln.x_ohm_per_km for ln in net.lines]) * length
    c = _stack([ln.c_nf_per_km for ln in net.lines]) * length * 1e-9
    arr["from_node"] = [bus_row[ln.bus1] for ln in net.lines]
    arr["to_node"] = [bus_row[ln.bus2] for ln in net.lines]
    arr["from_status"] = 1
    arr["to_status"] = 1
    for name, m in (("r", r), ("x", x), ("c", c)):
        sym = 0.5 * (m + m.transpose(0, 2, 1))
        for (i, a), (j, b) in _LOWER:
            arr[f"{name}_{a}{b}"] = sym[:, i, j]
    arr["i_n"] = [ln.ampacity_a for ln in net.lines]
    return arr


def _stack(matrices: list[Matrix]) -> FloatArray:
    """``[n, 3, 3]`` from per-line matrices, converting each distinct matrix object once."""
    index: dict[int, int] = {}
    distinct: list[Matrix] = []
    rows = np.empty(len(matrices), dtype=np.int64)
    for i, m in enumerate(matrices):
        k = index.get(id(m))
        if k is None:
            k = index[id(m)] = len(distinct)
            distinct.append(m)
        rows[i] = k
    return np.array(distinct, dtype=np.float64)[rows]


_LOWER = (
    ((0, "a"), (0, "a")),
    ((1, "b"), (0, "a")),
    ((1, "b"), (1, "b")),
    ((2, "c"), (0, "a")),
    ((2, "c"), (1, "b")),
    ((2, "c"), (2, "c")),
)


def _winding_type(w: Winding) -> WindingType:
    return WindingType.delta if w.conn == "delta" else WindingType.wye_n


def _clock(w1: Winding, wk: Winding) -> int:
    """OpenDSS (ANSI) convention: a delta/wye pair lags winding 1 by 30° (clock 1)."""
    return 1 if w1.conn != wk.conn else 0


def _core(tr: Transformer) -> tuple[float, float]:
    """PGM (i0, p0 in W) from OpenDSS %imag and %noloadloss."""
    s_va = tr.windings[0].s_kva * 1e3
    return math.hypot(tr.imag_pct, tr.noload_loss_pct) / 100.0, tr.noload_loss_pct / 100.0 * s_va


def _transformers(
    net: Network, rows: IntArray, regulated: dict[str, int], bus_row: dict[str, int], ids: _Ids
) -> PgmArray:
    arr = _array(ComponentType.transformer, len(rows), ids)
    trs = [net.transformers[ti] for ti in rows.tolist()]
    w1 = [t.windings[0] for t in trs]
    w2 = [t.windings[1] for t in trs]

    def col(values: list[float]) -> FloatArray:
        return np.array(values, dtype=np.float64)

    s1_va = col([w.s_kva for w in w1]) * 1e3
    r_pu = (col([w.r_pct for w in w1]) + col([w.r_pct for w in w2])) / 100.0  # on winding 1
    x_pu = col([t.x_pct[0] for t in trs]) / 100.0
    arr["from_node"] = [bus_row[w.bus] for w in w1]
    arr["to_node"] = [bus_row[w.bus] for w in w2]
    arr["from_status"] = arr["to_status"] = 1
    arr["u1"] = col([w.v_kv * w.tap_pu for w in w1]) * 1e3
    arr["u2"] = col([w.v_kv * w.tap_pu for w in w2]) * 1e3
    arr["sn"] = s1_va
    arr["uk"] = np.hypot(r_pu, x_pu)
    arr["pk"] = r_pu * s1_va
    arr["i0"] = arr["p0"] = 0.0  # the core is a shunt at winding 2, as in OpenDSS (_shunts)
    arr["winding_from"] = [_winding_type(w) for w in w1]
    arr["winding_to"] = [_winding_type(w) for w in w2]
    arr["clock"] = [_clock(a, b) for a, b in zip(w1, w2, strict=True)]
    for name in ("tap_side", "tap_pos", "tap_min", "tap_max", "tap_nom"):
        arr[name] = 0
    arr["tap_size"] = 0.0
    for i, tr in enumerate(trs):
        winding = regulated.get(tr.id)
        if winding in (1, 2):
            w = tr.windings[winding - 1]
            step = (w.tap_max_pu - w.tap_min_pu) / w.tap_steps
            arr["tap_side"][i] = winding - 1
            arr["tap_size"][i] = step * w.v_kv * 1e3
            arr["tap_min"][i] = -math.floor((w.tap_pu - w.tap_min_pu) / step + 1e-9)
            arr["tap_max"][i] = math.floor((w.tap_max_pu - w.tap_pu) / step + 1e-9)
    return arr


def _three_winding(net: Network, rows: IntArray, bus_row: dict[str, int], ids: _Ids) -> PgmArray:
    arr = _array(ComponentType.three_winding_transformer, len(rows), ids)
    for i, ti in enumerate(rows.tolist()):
        tr = net.transformers[ti]
        w = tr.windings
        s = [wk.s_kva * 1e3 for wk in w]
        s1 = s[0]
        x12, x13, x23 = (x / 100.0 for x in ((*tr.x_pct, 0.0, 0.0))[:3])
        # star legs on the winding-1 base (OpenDSS expresses every % on winding 1's kVA)
        r_leg = [w[k].r_pct / 100.0 for k in range(3)]
        x_leg = [0.5 * (x12 + x13 - x23), 0.5 * (x12 + x23 - x13), 0.5 * (x13 + x23 - x12)]
        uk_leg = [math.copysign(math.hypot(r_leg[k], x_leg[k]), x_leg[k]) for k in range(3)]
        pk_leg = [r_leg[k] * s1 for k in range(3)]
        row = arr[i]
        for k in range(3):
            row[f"node_{k + 1}"] = bus_row[w[k].bus]
            row[f"status_{k + 1}"] = 1
            row[f"u{k + 1}"] = w[k].v_kv * 1e3 * w[k].tap_pu
            row[f"sn_{k + 1}"] = s[k]
            row[f"winding_{k + 1}"] = _winding_type(w[k])
        for a, b in ((0, 1), (0, 2), (1, 2)):
            base = min(s[a], s[b]) / s1
            row[f"uk_{a + 1}{b + 1}"] = (uk_leg[a] + uk_leg[b]) * base
            row[f"pk_{a + 1}{b + 1}"] = (pk_leg[a] + pk_leg[b]) * base * base
        row["i0"] = 0.0  # the core is a shunt at winding 2, as in OpenDSS (see _shunts)
        row["p0"] = 0.0
        row["clock_12"] = _clock(w[0], w[1])
        row["clock_13"] = _clock(w[0], w[2])
        row["tap_side"] = 0
        row["tap_pos"] = 0
        row["tap_min"] = 0
        row["tap_max"] = 0
        row["tap_nom"] = 0
        row["tap_size"] = 0.0
    return arr


def _series_lines(
    net: Network, reactors: IntArray, impedance: BoolArray, bus_row: dict[str, int], ids: _Ids
) -> PgmArray:
    """Series reactors, then switches with impedance, as sequence-parameter ``line`` rows."""
    rows: list[tuple[str, str, float, float, float, int]] = []
    for ri in reactors.tolist():
        rx = net.reactors[ri]
        assert rx.bus2 is not None
        rows.append((rx.bus1, rx.bus2, rx.r_ohm, rx.x_ohm, rx.ampacity_a, 1))
    for sw, imp in zip(net.switches, impedance.tolist(), strict=True):
        if imp:
            rows.append((sw.bus1, sw.bus2, sw.r_ohm, sw.x_ohm, sw.ampacity_a, int(sw.closed)))
    arr = _array(ComponentType.line, len(rows), ids)
    for i, (b1, b2, r, x, amps, status) in enumerate(rows):
        arr["from_node"][i] = bus_row[b1]
        arr["to_node"][i] = bus_row[b2]
        arr["r1"][i] = arr["r0"][i] = r
        arr["x1"][i] = arr["x0"][i] = x
        arr["i_n"][i] = amps
        arr["from_status"][i] = arr["to_status"][i] = status
    for name in ("c1", "c0", "tan1", "tan0"):
        arr[name] = 0.0
    return arr


def _shunts(net: Network, bus_row: dict[str, int], ids: _Ids) -> tuple[PgmArray, IntArray]:
    """Capacitors (rows follow ``net.capacitors``), shunt reactors, transformer cores.

    OpenDSS connects a transformer's magnetising branch (``%imag``, ``%noloadloss``) at
    winding 2; PGM would split it between terminals, so it becomes a shunt at winding 2 here.
    """
    shunt_reactors = [r for r in net.reactors if r.bus2 is None]
    with_core = [i for i, t in enumerate(net.transformers) if t.imag_pct or t.noload_loss_pct]
    cores = [net.transformers[i] for i in with_core]
    n_all = len(net.capacitors) + len(shunt_reactors) + len(cores)
    core_row = np.full(len(net.transformers), -1, dtype=np.int64)
    first = len(net.capacitors) + len(shunt_reactors)
    core_row[with_core] = first + np.arange(len(cores))
    arr = _array(ComponentType.shunt, n_all, ids)
    n_cap = len(net.capacitors)
    for i, cap in enumerate(net.capacitors):
        b_s = cap.q_kvar * 1e3 / (cap.v_kv * 1e3) ** 2
        arr["node"][i] = bus_row[cap.bus]
        arr["status"][i] = int(cap.closed)
        arr["g1"][i] = arr["g0"][i] = 0.0
        arr["b1"][i] = b_s
        arr["b0"][i] = b_s if cap.conn == "wye" else 0.0
    for j, rx in enumerate(shunt_reactors):
        i = n_cap + j
        y = 1.0 / complex(rx.r_ohm, rx.x_ohm)
        if rx.conn == "delta":
            y *= 3.0  # phase-to-phase impedance -> wye equivalent; no zero sequence
        arr["node"][i] = bus_row[rx.bus1]
        arr["status"][i] = 1
        arr["g1"][i], arr["b1"][i] = y.real, y.imag
        arr["g0"][i], arr["b0"][i] = (0.0, 0.0) if rx.conn == "delta" else (y.real, y.imag)
    for j, tr in enumerate(cores):
        i = n_cap + len(shunt_reactors) + j
        w2 = tr.windings[1]
        i0, p0 = _core(tr)
        u_v = w2.v_kv * 1e3 * w2.tap_pu
        g = p0 / u_v**2
        b = -math.sqrt(max((i0 * tr.s_kva * 1e3) ** 2 - p0**2, 0.0)) / u_v**2
        arr["node"][i] = bus_row[w2.bus]
        arr["status"][i] = 1
        arr["g1"][i], arr["b1"][i] = g, b
        arr["g0"][i], arr["b0"][i] = (0.0, 0.0) if w2.conn == "delta" else (g, b)
    return arr, core_row
