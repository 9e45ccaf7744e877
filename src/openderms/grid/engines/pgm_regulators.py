"""OpenDSS-compatible regulator control around power-grid-model.

PGM's own ``transformer_tap_regulator`` stops at the first tap inside the band; OpenDSS's
RegControl (static mode) aims at the band centre, moving 70 % of the computed change (at least
one tap, at most ``max_tap_change``) per control iteration. The two settle on different taps, so
this module replays OpenDSS's rule on PGM results instead, vectorised over scenarios:

    solve -> control voltage (winding voltage of the PT phase / PT ratio, plus line-drop
    compensation (R + jX)·I/CT with I flowing into the regulated terminal) -> if
    |v_set - v| > band/2: boost = round((v_set - v)·PT / V_winding_base / step) taps,
    move trunc(0.7·|boost|) (1 .. max_tap_change) taps -> solve again, until no tap moves.

Each scenario starts from the model's taps (position 0): scenarios do not inherit taps from
each other, so a batch equals independent snapshots. The iteration itself lives in
``PgmModel`` (together with the load voltage regions of ``pgm_loads``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from power_grid_model import ComponentType

from openderms.grid.engines.pgm_types import SQRT3, FloatArray, IntArray, PgmArray, PgmOutput
from openderms.grid.model import Network

#: ``Regulator.pt_phase`` codes for OpenDSS's PTphase=MAX / MIN (the phase chosen each time)
MAX_PHASE, MIN_PHASE = -1, -2

#: phasor rotation of phases A, B, C in a balanced (symmetric) result
_ROTATION = np.exp(-1j * np.radians([0.0, 120.0, 240.0]))


@dataclass(frozen=True, slots=True)
class RegulatorMap:
    """What the tap loop needs about the regulators (arrays align with ``net.regulators``)."""

    transformer_row: IntArray  # row in the PGM transformer array
    transformer_pgm_id: IntArray
    tap_to_side: NDArray[np.bool_]  # regulated winding is winding 2 (PGM "to" side)
    node_row: IntArray  # PGM node row of the regulated winding's bus
    delta: NDArray[np.bool_]  # regulated winding is delta (control voltage line-to-line)
    phase: IntArray  # 0-based PT phase, or MAX_PHASE / MIN_PHASE
    v_winding_base_v: FloatArray  # OpenDSS winding VBase: kV_LL/√3 (wye) or kV_LL (delta), V
    v_set_v: FloatArray
    band_v: FloatArray
    pt_ratio: FloatArray
    ct_primary_a: FloatArray
    z_ldc_v: NDArray[np.complex128]  # R + jX of the line-drop compensator, volts at 1 A CT
    step_pu: FloatArray
    pos_min: IntArray
    pos_max: IntArray
    max_tap_change: IntArray
    tap0_pu: FloatArray  # the model's tap of the regulated winding
    core_shunt_row: IntArray  # shunt row of a core at the regulated winding 2, or -1
    core_shunt_pgm_id: IntArray
    core_y_s: FloatArray  # [n_reg, 4] its g1, b1, g0, b0 at the model's tap


def regulator_map(
    net: Network,
    two: IntArray,
    tr_arr: PgmArray,
    bus_row: dict[str, int],
    *,
    shunts: PgmArray,
    core_row: IntArray,
) -> RegulatorMap:
    """The regulators of two-winding transformers (``two``: their net.transformers indices;
    ``core_row``: the shunt row of each transformer's core, or -1)."""
    row_of = {net.transformers[ti].id: i for i, ti in enumerate(two.tolist())}
    regs = [r for r in net.regulators if r.transformer in row_of]
    rows = np.array([row_of[r.transformer] for r in regs], dtype=np.int64)
    windings = [net.transformers[int(two[row_of[r.transformer]])].windings for r in regs]
    w = [ws[r.winding - 1] for ws, r in zip(windings, regs, strict=True)]
    delta = np.array([wk.conn == "delta" for wk in w], dtype=bool)
    kv = np.array([wk.v_kv for wk in w], dtype=np.float64)
    # a core sits at winding 2: its admittance follows that winding's tap
    core = np.array(
        [core_row[two[row_of[r.transformer]]] if r.winding == 2 else -1 for r in regs],
        dtype=np.int64,
    )
    core_y = np.zeros((len(regs), 4))
    if (core >= 0).any():
        has = core >= 0
        core_y[has] = np.stack([shunts[k][core[has]] for k in ("g1", "b1", "g0", "b0")], axis=1)

    def f(values: list[float]) -> FloatArray:
        return np.array(values, dtype=np.float64)

    return RegulatorMap(
        transformer_row=rows,
        transformer_pgm_id=tr_arr["id"][rows].astype(np.int64) if len(rows) else rows,
        tap_to_side=np.array([r.winding == 2 for r in regs], dtype=bool),
        node_row=np.array([bus_row[wk.bus] for wk in w], dtype=np.int64),
        delta=delta,
        phase=np.array([r.pt_phase - 1 if r.pt_phase > 0 else r.pt_phase for r in regs], np.int64),
        v_winding_base_v=np.where(delta, kv, kv / SQRT3) * 1e3,
        v_set_v=f([r.v_set_v for r in regs]),
        band_v=f([r.band_v for r in regs]),
        pt_ratio=f([r.pt_ratio for r in regs]),
        ct_primary_a=f([r.ct_primary_a for r in regs]),
        z_ldc_v=np.array([complex(r.r_ldc_v, r.x_ldc_v) for r in regs], dtype=np.complex128),
        step_pu=f([(wk.tap_max_pu - wk.tap_min_pu) / wk.tap_steps for wk in w]),
        pos_min=tr_arr["tap_min"][rows].astype(np.int64) if len(rows) else rows,
        pos_max=tr_arr["tap_max"][rows].astype(np.int64) if len(rows) else rows,
        max_tap_change=np.array([r.max_tap_change for r in regs], dtype=np.int64),
        tap0_pu=f([wk.tap_pu for wk in w]),
        core_shunt_row=core,
        core_shunt_pgm_id=np.where(core >= 0, shunts["id"][np.maximum(core, 0)], -1)
        if len(shunts)
        else core,
        core_y_s=core_y,
    )


def core_update(reg: RegulatorMap, taps: IntArray) -> dict[str, np.ndarray] | None:
    """Shunt ``id``/``g1``/``b1``/``g0``/``b0`` ``[S, n]`` of the cores that move with taps.

    The core admittance was set at the model's tap; at position ``k`` it scales by
    (tap / (tap + k·step))², as OpenDSS's magnetising branch does at a tapped winding 2.
    """
    has = reg.core_shunt_row >= 0
    if not has.any():
        return None
    tap = reg.tap0_pu[has]
    scale = (tap / (tap + taps[:, has] * reg.step_pu[has])) ** 2  # [S, n]
    y = reg.core_y_s[has]
    out: dict[str, np.ndarray] = {"id": np.broadcast_to(reg.core_shunt_pgm_id[has], scale.shape)}
    for k, name in enumerate(("g1", "b1", "g0", "b0")):
        out[name] = scale * y[:, k]
    return out


def _phase_voltages(
    out: PgmOutput, rows: IntArray, u_base_ln_v: FloatArray
) -> NDArray[np.complex128]:
    """Phase-to-ground voltage phasors ``[S, n_reg, 3]`` (V) at the given node rows."""
    u = np.asarray(out[ComponentType.node]["u_pu"], dtype=np.float64)
    a = np.asarray(out[ComponentType.node]["u_angle"], dtype=np.float64)
    n = u.shape[0]
    if u.ndim == 2:  # symmetric: positive sequence of phase A, rotate for B and C
        v = (u[:, rows] * u_base_ln_v) * np.exp(1j * a[:, rows])
        return np.asarray(v[:, :, None] * _ROTATION, dtype=np.complex128).reshape(n, len(rows), 3)
    v3 = u[:, rows, :] * u_base_ln_v[:, None] * np.exp(1j * a[:, rows, :])
    return np.asarray(v3, dtype=np.complex128)


def _terminal_power(out: PgmOutput, reg: RegulatorMap) -> NDArray[np.complex128]:
    """Complex power per phase ``[S, n_reg, 3]`` (VA) flowing into the regulated terminal."""
    tr = out[ComponentType.transformer]
    rows = reg.transformer_row
    s_from = np.asarray(tr["p_from"], dtype=np.float64) + 1j * np.asarray(tr["q_from"], np.float64)
    s_to = np.asarray(tr["p_to"], dtype=np.float64) + 1j * np.asarray(tr["q_to"], np.float64)
    s_from = s_from[:, rows]
    s_to = s_to[:, rows]
    if s_from.ndim == 2:
        s_from = np.repeat(s_from[:, :, None] / 3.0, 3, axis=2)
        s_to = np.repeat(s_to[:, :, None] / 3.0, 3, axis=2)
    side = reg.tap_to_side[None, :, None]
    return np.asarray(np.where(side, s_to, s_from), dtype=np.complex128)


def tap_change(
    out: PgmOutput, reg: RegulatorMap, taps: IntArray, u_rated_v: FloatArray
) -> IntArray:
    """Taps each regulator moves after this solution, ``[S, n_reg]`` (0 when in band)."""
    u_base_ln = u_rated_v[reg.node_row] / SQRT3
    v = _phase_voltages(out, reg.node_row, u_base_ln)  # [S, n, 3]
    s = _terminal_power(out, reg)
    v_windings = np.where(reg.delta[None, :, None], v - np.roll(v, -1, axis=2), v)
    fixed = np.broadcast_to(np.maximum(reg.phase, 0), v.shape[:2])
    mag = np.abs(v_windings)
    ph = np.where(reg.phase == MAX_PHASE, mag.argmax(axis=2), fixed)
    ph = np.where(reg.phase == MIN_PHASE, mag.argmin(axis=2), ph)[:, :, None]
    v_ph = np.take_along_axis(v, ph, axis=2)[:, :, 0]
    v_winding = np.take_along_axis(v_windings, ph, axis=2)[:, :, 0]
    s_ph = np.take_along_axis(s, ph, axis=2)[:, :, 0]
    i_in = np.conj(s_ph / np.where(v_ph == 0, 1.0, v_ph))  # into the terminal, A
    v_control = v_winding / reg.pt_ratio + reg.z_ldc_v * i_in / reg.ct_primary_a
    v_actual = np.abs(v_control)
    out_of_band = np.abs(reg.v_set_v - v_actual) > reg.band_v / 2.0
    boost_pu = (reg.v_set_v - v_actual) * reg.pt_ratio / reg.v_winding_base_v
    pending = np.round(boost_pu / reg.step_pu)  # Pascal Round: half to even, as numpy
    pending = np.where(out_of_band & (np.abs(v_ph) > 0), pending, 0.0)
    can_move = np.where(pending > 0, taps < reg.pos_max, taps > reg.pos_min)
    n_taps = np.clip(np.trunc(0.7 * np.abs(pending)), 1, reg.max_tap_change)
    move = np.where((pending != 0) & can_move, np.sign(pending) * n_taps, 0.0)
    new = np.clip(taps + move.astype(np.int64), reg.pos_min, reg.pos_max)
    return np.asarray(new - taps, dtype=np.int64)
