"""Unit conversions used at model boundaries (importers, engines, sensitivities).

Plain functions of floats so they vectorise over numpy arrays too. Every name says both units.
"""

from __future__ import annotations

import math

#: metres per unit of length, by the names OpenDSS and US utility data use
LENGTH_M: dict[str, float] = {
    "km": 1000.0,
    "m": 1.0,
    "cm": 0.01,
    "mi": 1609.344,
    "kft": 304.8,
    "ft": 0.3048,
    "in": 0.0254,
}


def length_to_km(value: float, unit: str) -> float:
    """Convert a length in ``unit`` (km, m, cm, mi, kft, ft, in) to km."""
    try:
        return value * LENGTH_M[unit] / 1000.0
    except KeyError:
        raise ValueError(
            f"unknown length unit {unit!r}; expected one of {sorted(LENGTH_M)}"
        ) from None


def per_length_to_per_km(value_per_unit: float, unit: str) -> float:
    """Convert a per-length quantity (ohm per mile, say) to the same quantity per km."""
    return value_per_unit / length_to_km(1.0, unit)


def kv_ll_to_ln(v_kv_ll: float) -> float:
    """Line-to-line to line-to-neutral voltage of a balanced three-phase system."""
    return v_kv_ll / math.sqrt(3.0)


def kv_ln_to_ll(v_kv_ln: float) -> float:
    """Line-to-neutral to line-to-line voltage of a balanced three-phase system."""
    return v_kv_ln * math.sqrt(3.0)


def z_base_ohm(v_base_kv_ll: float, s_base_kva: float) -> float:
    """Impedance base of a three-phase system: V_LL^2 / S_3ph."""
    return (v_base_kv_ll * 1000.0) ** 2 / (s_base_kva * 1000.0)


def ohm_to_pu(z_ohm: float, v_base_kv_ll: float, s_base_kva: float) -> float:
    """Impedance in ohm to per unit on (V_LL base, three-phase S base)."""
    return z_ohm / z_base_ohm(v_base_kv_ll, s_base_kva)


def pu_change_base(z_pu: float, s_old_kva: float, s_new_kva: float) -> float:
    """Re-express a per-unit impedance on a new power base (same voltage base)."""
    return z_pu * s_new_kva / s_old_kva


def susceptance_us_to_capacitance_nf(b_us: float, frequency_hz: float) -> float:
    """Shunt susceptance in microsiemens to capacitance in nanofarad at ``frequency_hz``."""
    return b_us * 1e3 / (2.0 * math.pi * frequency_hz)


def capacitance_nf_to_susceptance_us(c_nf: float, frequency_hz: float) -> float:
    """Capacitance in nanofarad to shunt susceptance in microsiemens at ``frequency_hz``."""
    return c_nf * 2.0 * math.pi * frequency_hz * 1e-3


def positive_sequence(m: tuple[tuple[float, ...], ...]) -> float:
    """Positive-sequence value of a phase matrix of a transposed branch: mean self term minus
    mean mutual term (the single entry of a 1x1 matrix)."""
    n = len(m)
    if n == 1:
        return m[0][0]
    diag = sum(m[i][i] for i in range(n)) / n
    off = (sum(sum(row) for row in m) - diag * n) / (n * n - n)
    return diag - off


def kw_to_pu(p_kw: float, s_base_kva: float) -> float:
    """Power in kW to per unit of ``s_base_kva``."""
    return p_kw / s_base_kva
