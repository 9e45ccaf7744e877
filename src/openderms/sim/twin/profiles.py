"""Design-day profiles of the twin at 15-minute resolution (96 steps, timezone-aware UTC).

- Loads: summer residential (air-conditioning evening peak) and commercial (business-hours)
  shapes, shifted and perturbed per customer with autocorrelated noise; reactive power at a
  fixed power factor (0.95 homes, 0.92 businesses). Load convention: positive = consumed.
- PV: pvlib clear-sky irradiance (Ineichen with the Linke turbidity climatology) transposed to
  each array orientation, times an autocorrelated, seeded cloud factor; DC/AC ratio, derate
  and inverter clipping. Unity power factor (the uncontrolled base case).
- Batteries: time-of-use self-consumption: charge late morning, discharge in the 4-9 pm peak.
- EV chargers: Level 2 sessions starting on arrival, at the 9 pm or the midnight
  time-of-use break, or (a few) during the day.
DER columns are in generator convention: positive = export, a charging battery or EV negative.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from openderms.grid.powerflow import InjectionSeries
from openderms.sim.twin.catalog import PV_DC_AC_RATIO, PV_DERATE, PV_ORIENTATIONS
from openderms.sim.twin.config import TwinConfig
from openderms.sim.twin.customers import BATTERY, EV_CHARGER, PV, Fleet

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

STEPS_PER_DAY = 96
STEP_H = 24.0 / STEPS_PER_DAY

#: normalised hourly shapes (hour-beginning, local time), peak 1.0
RESIDENTIAL_SHAPE = (
    0.50, 0.42, 0.38, 0.36, 0.36, 0.40, 0.48, 0.52, 0.50, 0.48, 0.48, 0.50,
    0.55, 0.60, 0.66, 0.74, 0.82, 0.90, 0.97, 1.00, 0.96, 0.86, 0.74, 0.60,
)  # fmt: skip
COMMERCIAL_SHAPE = (
    0.42, 0.40, 0.40, 0.40, 0.42, 0.48, 0.60, 0.75, 0.88, 0.95, 0.98, 1.00,
    1.00, 1.00, 1.00, 0.98, 0.93, 0.85, 0.74, 0.64, 0.56, 0.50, 0.46, 0.44,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DayProfiles:
    """The design day: UTC timestamps (step starts) and the network's injections per step.

    ``injections`` columns follow ``net.loads`` (load convention, positive = consumed) and
    ``net.ders`` (generator convention, positive = export).
    """

    timestamps: tuple[datetime, ...]
    injections: InjectionSeries
    pv_poa_w_per_m2: FloatArray  # [steps, orientation class] before clouds
    cloud_factor: FloatArray  # [steps], 1 = clear
    solar_noon_step: int

    @property
    def n_steps(self) -> int:
        return len(self.timestamps)


def design_day_timestamps(cfg: TwinConfig) -> tuple[datetime, ...]:
    """The 96 step starts (UTC) of the local design day ``cfg.day`` in ``cfg.timezone``."""
    start = datetime.combine(cfg.day, time(0), tzinfo=ZoneInfo(cfg.timezone)).astimezone(UTC)
    return tuple(start + timedelta(minutes=15 * k) for k in range(STEPS_PER_DAY))


def local_hours(cfg: TwinConfig, timestamps: tuple[datetime, ...]) -> FloatArray:
    """Local clock time of each step start, in hours (0 to 24)."""
    tz = ZoneInfo(cfg.timezone)
    local = [t.astimezone(tz) for t in timestamps]
    return np.array([t.hour + t.minute / 60.0 for t in local])


def plane_of_array(
    cfg: TwinConfig, timestamps: tuple[datetime, ...]
) -> tuple[FloatArray, FloatArray]:
    """Clear-sky plane-of-array irradiance [steps, orientation] (W/m2) and the solar zenith."""
    import pandas as pd
    import pvlib

    times = pd.DatetimeIndex(timestamps)
    site = pvlib.location.Location(
        cfg.latitude_deg, cfg.longitude_deg, tz="UTC", altitude=cfg.altitude_m
    )
    sun = site.get_solarposition(times)
    sky = site.get_clearsky(times, model="ineichen", solar_position=sun)
    poa = np.zeros((len(times), len(PV_ORIENTATIONS)))
    for k, (tilt_deg, azimuth_deg, _share) in enumerate(PV_ORIENTATIONS):
        irr = pvlib.irradiance.get_total_irradiance(
            tilt_deg,
            azimuth_deg,
            sun["apparent_zenith"],
            sun["azimuth"],
            sky["dni"],
            sky["ghi"],
            sky["dhi"],
        )
        poa[:, k] = np.nan_to_num(irr["poa_global"].to_numpy(dtype=np.float64), nan=0.0)
    return np.clip(poa, 0.0, None), sun["apparent_zenith"].to_numpy(dtype=np.float64)


def _ar1(rng: np.random.Generator, n_steps: int, n: int, phi: float) -> FloatArray:
    """Unit-variance AR(1) noise ``[n_steps, n]`` (autocorrelation ``phi`` per step)."""
    eps = rng.standard_normal((n_steps, n))
    out = np.empty((n_steps, n))
    out[0] = eps[0]
    scale = np.sqrt(1.0 - phi * phi)
    for t in range(1, n_steps):
        out[t] = phi * out[t - 1] + scale * eps[t]
    return out


def cloud_factor(cfg: TwinConfig, rng: np.random.Generator) -> FloatArray:
    """Share of clear-sky irradiance reaching the arrays per step (1 = clear)."""
    a = _ar1(rng, STEPS_PER_DAY, 1, 0.85)[:, 0]
    return np.clip(1.0 - 3.0 * cfg.cloudiness * np.maximum(a - 0.2, 0.0), 0.2, 1.0)


def _block(hours: FloatArray, start_h: FloatArray, duration_h: FloatArray) -> FloatArray:
    """Share of each step ``[steps, n]`` covered by ``[start, start + duration)`` (wrapping)."""
    h = hours[:, None]
    end = start_h + duration_h
    cover = np.zeros((len(hours), len(start_h)))
    for shift in (-24.0, 0.0, 24.0):
        lo = np.clip(start_h + shift - h, 0.0, STEP_H)
        hi = np.clip(end + shift - h, 0.0, STEP_H)
        cover += hi - lo
    return np.clip(cover / STEP_H, 0.0, 1.0)


def _loads(
    fleet: Fleet, rng: np.random.Generator, hours: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per-customer active and reactive power ``[steps, loads]`` (consumed positive)."""
    com = fleet.load_commercial
    n = len(com)
    shift_h = np.where(com, rng.uniform(-0.5, 0.5, n), rng.uniform(-1.0, 1.0, n))
    x = (hours[:, None] - shift_h[None, :]) % 24.0
    grid = np.arange(24.0) + 0.5  # hour-beginning values sit mid-hour
    res = np.interp(x, grid, np.array(RESIDENTIAL_SHAPE), period=24.0)
    comm = np.interp(x, grid, np.array(COMMERCIAL_SHAPE), period=24.0)
    sigma = np.where(com, 0.06, 0.15)
    noise = np.exp(sigma * _ar1(rng, len(hours), n, 0.8) - 0.5 * sigma**2)
    p_kw = np.where(com, comm, res) * noise * fleet.load_peak_kw
    tan_phi = np.where(com, np.tan(np.arccos(0.92)), np.tan(np.arccos(0.95)))
    return p_kw, p_kw * tan_phi


def _pv(fleet: Fleet, cols: IntArray, poa: FloatArray, clouds: FloatArray) -> FloatArray:
    """AC output ``[steps, cols]`` of the PV systems in ``cols`` (generator convention)."""
    p_ac_kw = fleet.der_p_max_kw[cols]
    dc_kw = p_ac_kw * PV_DC_AC_RATIO
    raw = dc_kw * poa[:, fleet.der_orientation[cols]] / 1000.0 * PV_DERATE * clouds[:, None]
    return np.minimum(raw, p_ac_kw)


def _batteries(
    fleet: Fleet, cols: IntArray, rng: np.random.Generator, hours: FloatArray
) -> FloatArray:
    """Time-of-use power ``[steps, cols]`` of the batteries in ``cols``: negative charging.

    Each charges 85 % of its energy over about four late-morning hours and discharges it
    (90 % round trip) from the start of the 4-9 pm peak.
    """
    n = len(cols)
    p_kw = fleet.der_p_max_kw[cols]
    e_kwh = fleet.der_e_kwh[cols]
    charge_kw = np.minimum(p_kw, 0.85 * e_kwh / 4.0)
    discharge_kw = np.minimum(p_kw, 0.85 * 0.9 * e_kwh / 4.5)
    charge = _block(hours, rng.uniform(9.0, 11.5, n), 0.85 * e_kwh / charge_kw)
    discharge = _block(hours, rng.uniform(16.0, 17.5, n), 0.85 * 0.9 * e_kwh / discharge_kw)
    return discharge * discharge_kw - charge * charge_kw


def _ev_chargers(
    fleet: Fleet, cols: IntArray, rng: np.random.Generator, hours: FloatArray
) -> FloatArray:
    """Charging power ``[steps, cols]`` of the EV chargers in ``cols`` (negative = charging).

    Sessions of 6-24 kWh start on arrival home (35 %), at the 9 pm (30 %) or the midnight
    (25 %) time-of-use break, or during the day (10 %).
    """
    n = len(cols)
    habit = rng.choice(4, size=n, p=[0.35, 0.30, 0.25, 0.10])
    start = np.select(
        [habit == 0, habit == 1, habit == 2],
        [
            np.clip(rng.normal(18.0, 1.3, n), 15.0, 22.0),
            21.0 + rng.uniform(0.0, 0.75, n),
            rng.uniform(0.0, 1.5, n),
        ],
        rng.uniform(9.0, 13.0, n),
    )
    charge_kw = -fleet.der_p_min_kw[cols]
    energy_kwh = rng.uniform(6.0, 24.0, n)
    return -_block(hours, start, energy_kwh / charge_kw) * charge_kw


def day_profiles(cfg: TwinConfig, fleet: Fleet, rng: np.random.Generator) -> DayProfiles:
    """The seeded design-day injections of a fleet (columns in ``Fleet`` order)."""
    timestamps = design_day_timestamps(cfg)
    hours = local_hours(cfg, timestamps)
    poa, zenith_deg = plane_of_array(cfg, timestamps)
    clouds = cloud_factor(cfg, rng)
    load_p_kw, load_q_kvar = _loads(fleet, rng, hours)
    der_p_kw = np.zeros((STEPS_PER_DAY, len(fleet.der_kind)))
    pv, bat, ev = (np.flatnonzero(fleet.der_kind == k) for k in (PV, BATTERY, EV_CHARGER))
    der_p_kw[:, pv] = _pv(fleet, pv, poa, clouds)
    der_p_kw[:, bat] = _batteries(fleet, bat, rng, hours)
    der_p_kw[:, ev] = _ev_chargers(fleet, ev, rng, hours)
    injections = InjectionSeries(
        load_p_kw=load_p_kw.round(3),
        load_q_kvar=load_q_kvar.round(3),
        der_p_kw=der_p_kw.round(3),
        der_q_kvar=np.zeros_like(der_p_kw),
    )
    return DayProfiles(
        timestamps=timestamps,
        injections=injections,
        pv_poa_w_per_m2=poa,
        cloud_factor=clouds,
        solar_noon_step=int(np.argmin(zenith_deg)),
    )
