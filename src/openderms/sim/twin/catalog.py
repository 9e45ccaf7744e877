"""Equipment catalogue of the twin: overhead conductors, transformers, DER products.

Line impedances come from the modified Carson's equations and shunt capacitances from the
potential-coefficient method (Kersting, *Distribution System Modeling and Analysis*, ch. 4-5)
for a standard US 12 kV crossarm (Kersting's ID-500 pole: phases 28 ft high at 0, 2.5 and 7 ft,
neutral 24 ft high at 4 ft), 60 Hz and 100 ohm-m earth. The neutral is Kron-reduced and the
phases are assumed transposed, so each matrix has equal self terms and equal mutual terms: the
twin is balanced three-phase by design (see ``openderms.sim.twin``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from openderms.grid.model import Matrix

KM_PER_MILE = 1.609344

#: Kersting ID-500 crossarm: (x_ft, height_ft) of phases a, b, c and the neutral
_POLE_FT: tuple[tuple[float, float], ...] = ((0.0, 28.0), (2.5, 28.0), (7.0, 28.0), (4.0, 24.0))


@dataclass(frozen=True, slots=True)
class Conductor:
    """A bare overhead conductor (Kersting appendix B); resistance at 50 degC, 60 Hz."""

    name: str
    r_ohm_per_mile: float
    gmr_ft: float
    diameter_in: float
    ampacity_a: float


ACSR_336 = Conductor("336,400 26/7 ACSR (Linnet)", 0.306, 0.0244, 0.721, 530.0)
ACSR_4_0 = Conductor("4/0 6/1 ACSR (Penguin)", 0.592, 0.00814, 0.563, 340.0)
ACSR_1_0 = Conductor("1/0 6/1 ACSR (Raven)", 1.120, 0.00446, 0.398, 230.0)


@dataclass(frozen=True, slots=True)
class LineCode:
    """Per-km phase matrices of a three-phase overhead line and its ampacity."""

    name: str
    r_ohm_per_km: Matrix
    x_ohm_per_km: Matrix
    c_nf_per_km: Matrix
    ampacity_a: float
    emergency_a: float


def _transposed(m: np.ndarray) -> Matrix:
    """Average the self and the mutual terms of a 3x3 matrix (a transposed line)."""
    self_term = float(np.mean(np.diag(m)))
    mutual = float((m.sum() - np.trace(m)) / 6.0)
    return tuple(tuple(self_term if i == j else mutual for j in range(3)) for i in range(3))


def overhead_linecode(phase: Conductor, neutral: Conductor) -> LineCode:
    """Carson/Kron phase impedance and capacitance matrices (per km) of a 3-phase 4-wire line."""
    pos = np.array(_POLE_FT)
    gmr = np.array([phase.gmr_ft] * 3 + [neutral.gmr_ft])
    r = np.array([phase.r_ohm_per_mile] * 3 + [neutral.r_ohm_per_mile])
    radius_ft = np.array([phase.diameter_in] * 3 + [neutral.diameter_in]) / 24.0
    dx = pos[:, 0, None] - pos[None, :, 0]
    dist = np.hypot(dx, pos[:, 1, None] - pos[None, :, 1])
    img = np.hypot(dx, pos[:, 1, None] + pos[None, :, 1])  # to the images below ground
    np.fill_diagonal(dist, 1.0)
    # modified Carson's equations, ohm per mile (60 Hz, 100 ohm-m earth)
    z = 0.09530 + 0.12134j * (np.log(1.0 / dist) + 7.93402)
    np.fill_diagonal(z, r + 0.09530 + 0.12134j * (np.log(1.0 / gmr) + 7.93402))
    z_abc = z[:3, :3] - np.outer(z[:3, 3], z[3, :3]) / z[3, 3]
    # potential coefficients, mile per microfarad
    np.fill_diagonal(dist, radius_ft)
    p = 11.17689 * np.log(img / dist)
    p_abc = p[:3, :3] - np.outer(p[:3, 3], p[3, :3]) / p[3, 3]
    c_uf_per_mile = np.linalg.inv(p_abc)
    return LineCode(
        name=f"{phase.name} / {neutral.name} neutral",
        r_ohm_per_km=_transposed(z_abc.real / KM_PER_MILE),
        x_ohm_per_km=_transposed(z_abc.imag / KM_PER_MILE),
        c_nf_per_km=_transposed(c_uf_per_mile * 1000.0 / KM_PER_MILE),
        ampacity_a=phase.ampacity_a,
        emergency_a=round(phase.ampacity_a * 1.15),
    )


@dataclass(frozen=True, slots=True)
class TransformerType:
    """A transformer rating: ``r_pct`` per winding, ``x_pct`` leakage, both on its own kVA."""

    s_kva: float
    r_pct: float
    x_pct: float
    noload_loss_pct: float
    imag_pct: float


#: three-phase equivalents of residential pole-top / pad-mount units (12 kV : 208Y/120 V); the
#: impedance lumps the transformer with its secondary and service drops, which the twin does
#: not model separately (about 1.5 % R of a 100 ft 1/0 triplex secondary at full load)
RESIDENTIAL_TRANSFORMERS: tuple[TransformerType, ...] = (
    TransformerType(25.0, 1.40, 2.40, 0.25, 1.0),
    TransformerType(37.5, 1.35, 2.40, 0.22, 0.9),
    TransformerType(50.0, 1.30, 2.50, 0.20, 0.8),
    TransformerType(75.0, 1.20, 2.60, 0.18, 0.8),
    TransformerType(100.0, 1.10, 2.80, 0.16, 0.7),
    TransformerType(150.0, 1.00, 3.00, 0.15, 0.7),
)

#: commercial three-phase pad-mount units (12 kV : 480Y/277 V)
COMMERCIAL_TRANSFORMERS: tuple[TransformerType, ...] = (
    TransformerType(75.0, 0.75, 2.60, 0.25, 1.0),
    TransformerType(112.5, 0.70, 2.90, 0.22, 1.0),
    TransformerType(150.0, 0.65, 3.20, 0.20, 0.9),
    TransformerType(225.0, 0.60, 3.60, 0.18, 0.9),
    TransformerType(300.0, 0.55, 4.20, 0.16, 0.8),
    TransformerType(500.0, 0.50, 5.50, 0.14, 0.7),
    TransformerType(750.0, 0.45, 5.60, 0.12, 0.6),
    TransformerType(1000.0, 0.40, 5.65, 0.11, 0.6),
)

#: substation bank (66 kV : 12 kV, 28 MVA class, delta-wye)
SUBSTATION_TRANSFORMER = TransformerType(28_000.0, 0.20, 10.5, 0.05, 0.3)


def pick_transformer(types: tuple[TransformerType, ...], need_kva: np.ndarray) -> np.ndarray:
    """Index into ``types`` of the smallest unit rated at least ``need_kva`` (largest if none)."""
    sizes = np.array([t.s_kva for t in types])
    idx = np.searchsorted(sizes, need_kva, side="left")
    return np.minimum(idx, len(types) - 1)


#: residential PV inverters: AC kW and their share of systems
RES_PV_AC_KW: tuple[tuple[float, float], ...] = (
    (4.0, 0.15),
    (5.0, 0.20),
    (6.0, 0.20),
    (7.6, 0.25),
    (8.0, 0.10),
    (10.0, 0.10),
)
#: residential batteries: (energy kWh, power kW, share) - Powerwall 2, Enphase 10, LG RESU, 5 kWh
RES_BATTERY: tuple[tuple[float, float, float], ...] = (
    (13.5, 5.0, 0.50),
    (10.1, 3.84, 0.20),
    (9.8, 5.0, 0.15),
    (5.0, 3.84, 0.15),
)
#: Level 2 EV chargers: (charging power kW, share)
EV_CHARGER_KW: tuple[tuple[float, float], ...] = ((7.2, 0.60), (9.6, 0.25), (11.5, 0.15))

#: PV array orientations (tilt deg, azimuth deg clockwise from north, share): homes, then the
#: flat-roof commercial class last
PV_ORIENTATIONS: tuple[tuple[float, float, float], ...] = (
    (20.0, 180.0, 0.45),
    (20.0, 225.0, 0.20),
    (20.0, 270.0, 0.15),
    (20.0, 135.0, 0.12),
    (20.0, 90.0, 0.08),
    (10.0, 180.0, 0.0),
)
PV_COMMERCIAL_ORIENTATION = len(PV_ORIENTATIONS) - 1

#: PV DC/AC (inverter loading) ratio and the DC-to-AC derate (temperature, soiling, wiring)
PV_DC_AC_RATIO = 1.15
PV_DERATE = 0.84


def conductor_kv_ln(v_kv_ll: float) -> float:
    """Line-to-neutral voltage of a balanced three-phase system."""
    return v_kv_ll / math.sqrt(3.0)
