"""Loads as power-grid-model rows, with OpenDSS's behaviour outside ``v_min_pu``/``v_max_pu``.

A ``Load`` is up to three ``sym_load`` rows (constant power, constant current, constant
impedance): the parts its own model uses, plus those its out-of-band laws have needed so far
(``LoadRows``; fewer rows keep PGM fast). The load's model and its voltage region
set the coefficients of the parts. OpenDSS (whose semantics the model follows,
``Load.v_min_pu``/``v_max_pu`` being its ``vminpu``/``vmaxpu``) changes a load's law with its
voltage ``v`` (pu of the load's ``v_kv``):

- ``v_min < v <= v_max``: the model (P, I, Z, ZIP, or exponential with exponents 0, 1, 2);
- ``v > v_max``: constant impedance through the model's power at ``v_max``;
- ``v_low < v <= v_min``: the current falls linearly from the model's current at ``v_min``
  to the nominal impedance's current at ``v_low`` (0.5, OpenDSS's ``vlowpu`` default), i.e.
  P = a·v + b·v², a constant-current plus a constant-impedance part;
- ``v <= v_low``: the nominal impedance (P = p_kw·v²).

Exponential (CVR) loads follow constant power outside the band, as OpenDSS's model 4 does;
constant-impedance loads never change. Regions are found by fixed-point iteration around the
solver (``regions``); in the asymmetric calculation the mean phase voltage decides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from openderms.grid.model import Load

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: OpenDSS's default ``vlowpu``: below it a load is its nominal impedance
V_LOW_PU = 0.5
NORMAL, LOW, VERY_LOW, HIGH = 0, 1, 2, 3
#: PGM load types of the three rows of every load
PARTS = (0, 2, 1)  # const_power, const_current, const_impedance (LoadGenType values)


@dataclass(frozen=True, slots=True)
class LoadTable:
    """Coefficients ``[n_loads, 4 regions, 3 parts]`` (parts: P, I, Z) already scaled from the
    load's ``v_kv`` to its bus base, and what the region test needs."""

    coef_p: FloatArray
    coef_q: FloatArray
    v_ratio: FloatArray  # bus base (LL) / load v_kv: v_load_pu = v_bus_pu * v_ratio
    v_min_pu: FloatArray
    v_max_pu: FloatArray
    adaptive: NDArray[np.bool_]  # False: the law never changes (constant impedance)


def _shape(load: Load) -> tuple[tuple[float, float, float], tuple[float, float, float]] | None:
    """(P, I, Z) coefficients of P and of Q inside the band; None if PGM cannot express it."""
    m = load.model
    if m == "constant_power":
        return (1.0, 0.0, 0.0), (1.0, 0.0, 0.0)
    if m == "constant_current":
        return (0.0, 1.0, 0.0), (0.0, 1.0, 0.0)
    if m == "constant_impedance":
        return (0.0, 0.0, 1.0), (0.0, 0.0, 1.0)
    if m == "zip":
        c = load.zip_coeffs
        if len(c) == 3:
            c = (*c, *c)
        if len(c) not in (6, 7) or not all(np.isfinite(c)):
            return None
        return (c[2], c[1], c[0]), (c[5], c[4], c[3])
    if m == "exponential":
        out = []
        for e in (load.p_exponent, load.q_exponent):
            if e not in (0.0, 1.0, 2.0):
                return None
            part = [0.0, 0.0, 0.0]
            part[int(e)] = 1.0
            out.append((part[0], part[1], part[2]))
        return out[0], out[1]
    return None


def unsupported_load(load: Load) -> str | None:
    """Why PGM cannot express ``load``'s voltage law (None if it can)."""
    if _shape(load) is not None:
        return None
    if load.model == "exponential":
        return f"exponents {load.p_exponent}/{load.q_exponent} (0, 1 or 2 only)"
    return f"zip_coeffs={load.zip_coeffs} (3, 6 or 7 values expected)"


def _region_coefs(c: FloatArray, v_min: FloatArray, v_max: FloatArray) -> FloatArray:
    """``[n, 4, 3]`` part coefficients of the four regions from in-band coefficients ``c``."""
    at_min = c[:, 0] + c[:, 1] * v_min + c[:, 2] * v_min**2
    at_max = c[:, 0] + c[:, 1] * v_max + c[:, 2] * v_max**2
    i95 = at_min / v_min
    b = (i95 - V_LOW_PU) / (v_min - V_LOW_PU)
    out = np.zeros((len(c), 4, 3))
    out[:, NORMAL] = c
    out[:, LOW, 1] = i95 - b * v_min
    out[:, LOW, 2] = b
    out[:, VERY_LOW, 2] = 1.0
    out[:, HIGH, 2] = at_max / v_max**2
    return out


def load_table(loads: tuple[Load, ...], bus_ll_v: FloatArray) -> LoadTable:
    """Coefficients of ``loads`` (all expressible; see ``unsupported_load``)."""
    n = len(loads)
    shapes = [_shape(ld) for ld in loads]
    assert all(sh is not None for sh in shapes)
    sp = np.array([sh[0] for sh in shapes if sh is not None], dtype=np.float64).reshape(n, 3)
    sq = np.array([sh[1] for sh in shapes if sh is not None], dtype=np.float64).reshape(n, 3)
    model = np.array([ld.model for ld in loads])
    adaptive = model != "constant_impedance"
    power = np.array([1.0, 0.0, 0.0])
    exponential = (model == "exponential")[:, None]  # constant power outside the band
    v_min_pu = np.array([ld.v_min_pu for ld in loads], dtype=np.float64)
    v_max_pu = np.array([ld.v_max_pu for ld in loads], dtype=np.float64)
    v_min = np.clip(v_min_pu, V_LOW_PU + 1e-6, None)
    coef_p = _region_coefs(np.where(exponential, power, sp), v_min, v_max_pu)
    coef_q = _region_coefs(np.where(exponential, power, sq), v_min, v_max_pu)
    coef_p[:, NORMAL] = sp
    coef_q[:, NORMAL] = sq
    coef_p[~adaptive] = sp[~adaptive, None, :]
    coef_q[~adaptive] = sq[~adaptive, None, :]
    ratio = bus_ll_v / (np.array([ld.v_kv for ld in loads], dtype=np.float64) * 1e3)
    scale = np.stack([np.ones(n), ratio, ratio**2], axis=1)[:, None, :]  # P, I, Z parts
    return LoadTable(
        coef_p=coef_p * scale,
        coef_q=coef_q * scale,
        v_ratio=ratio,
        v_min_pu=v_min_pu,
        v_max_pu=v_max_pu,
        adaptive=adaptive,
    )


def regions(table: LoadTable, v_bus_pu: FloatArray) -> IntArray:
    """Region of every load ``[S, n]`` from its bus voltage ``[S, n]`` (0 = de-energised)."""
    v = v_bus_pu * table.v_ratio
    out = np.full(v.shape, NORMAL, dtype=np.int64)
    out[v > table.v_max_pu] = HIGH
    out[v <= table.v_min_pu] = LOW
    out[v <= V_LOW_PU] = VERY_LOW
    out[(v_bus_pu <= 0.0) | ~table.adaptive] = NORMAL
    return out


def near_band_edge(table: LoadTable, v_bus_pu: FloatArray, tol_pu: float) -> NDArray[np.bool_]:
    """Loads ``[S, n]`` whose voltage is within ``tol_pu`` of their v_min_pu or v_max_pu."""
    v = v_bus_pu * table.v_ratio
    return (np.abs(v - table.v_max_pu) < tol_pu) | (np.abs(v - table.v_min_pu) < tol_pu)


@dataclass(frozen=True, slots=True)
class LoadRows:
    """Which (load, part) pairs are PGM rows: ``present[n, 3]``, in row order load by load."""

    present: NDArray[np.bool_]
    flat: IntArray  # indices into the flattened [n * 3] (load, part) grid, one per row
    load: IntArray  # load index of each row
    kind: IntArray  # PGM LoadGenType of each row

    @property
    def n_rows(self) -> int:
        return len(self.flat)


def load_rows(table: LoadTable, extra: NDArray[np.bool_] | None = None) -> LoadRows:
    """Rows for the in-band parts of every load, plus the ``extra`` ``[n, 3]`` (load, part)s."""
    present = (table.coef_p[:, NORMAL] != 0) | (table.coef_q[:, NORMAL] != 0)
    if extra is not None:
        present |= extra
    present[~present.any(axis=1), 0] = True  # a load always has a row, even a zero one
    flat = np.flatnonzero(present).astype(np.int64)
    return LoadRows(
        present=present,
        flat=flat,
        load=flat // 3,
        kind=np.asarray(PARTS, dtype=np.int64)[flat % 3],
    )


def missing(table: LoadTable, rows: LoadRows, region: IntArray) -> NDArray[np.bool_]:
    """``[n, 3]``: the (load, part)s the laws of ``region`` (``[S, n]``) need but have no row."""
    idx = np.arange(region.shape[1])
    need = (table.coef_p[idx, region] != 0) | (table.coef_q[idx, region] != 0)  # [S, n, 3]
    return np.asarray(need.any(axis=0) & ~rows.present)


def specified(
    table: LoadTable, rows: LoadRows, region: IntArray, p_kw: FloatArray, q_kvar: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """PGM ``p_specified``/``q_specified`` (W, var) ``[S, n_rows]`` for loads ``[S, n]``."""
    idx = np.arange(region.shape[1])
    cp = table.coef_p[idx, region]  # [S, n, 3]
    cq = table.coef_q[idx, region]
    s = region.shape[0]
    p = (p_kw[:, :, None] * cp).reshape(s, -1)[:, rows.flat] * 1e3
    q = (q_kvar[:, :, None] * cq).reshape(s, -1)[:, rows.flat] * 1e3
    return p, q
