"""Customers, service transformers and the DER fleet of the twin, drawn as arrays.

Homes hang in groups of a few off residential service transformers; each commercial customer
has its own 480 V transformer. The DER counts of the preset are exact; PV adoption clusters by
lateral (whole neighbourhoods adopt together) and batteries mostly join PV. Transformers are
sized like a utility would: for the diversified peak load, and - when rooftop PV was
interconnected - for part of the PV (the margin varies, so some end up overloaded at noon).

Ratings: ``p_max_kw`` is the export rating and ``p_min_kw`` the largest import (negative), in
generator convention; ``peak_kw`` of a load is the customer's own 15-minute peak (consumed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from openderms.sim.twin.catalog import (
    COMMERCIAL_TRANSFORMERS,
    EV_CHARGER_KW,
    PV_COMMERCIAL_ORIENTATION,
    PV_ORIENTATIONS,
    RES_BATTERY,
    RES_PV_AC_KW,
    RESIDENTIAL_TRANSFORMERS,
    pick_transformer,
)
from openderms.sim.twin.config import TwinConfig
from openderms.sim.twin.layout import Site

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

PV, BATTERY, EV_CHARGER = 0, 1, 2
#: ``Der.kind`` by fleet kind code
DER_KIND_NAMES = ("pv", "battery", "ev_charger")


@dataclass(frozen=True, slots=True)
class Fleet:
    """Customers (= loads) and DER of the twin; array order is ``net.loads`` / ``net.ders``."""

    site_type: IntArray  # per site: index into the residential or commercial transformer table
    load_site: IntArray
    load_number: IntArray  # customer number at its site, from 1
    load_commercial: BoolArray
    load_peak_kw: FloatArray
    der_kind: IntArray  # PV, BATTERY or EV_CHARGER
    der_load: IntArray  # the customer that hosts it
    der_p_max_kw: FloatArray
    der_p_min_kw: FloatArray
    der_e_kwh: FloatArray
    der_orientation: IntArray  # index into PV_ORIENTATIONS, -1 if not PV


def _choice(
    rng: np.random.Generator, table: tuple[tuple[float, ...], ...], size: int
) -> FloatArray:
    """Rows of ``table`` (its last column is the share) drawn ``size`` times."""
    arr = np.array(table, dtype=np.float64)
    idx = rng.choice(len(arr), size=size, p=arr[:, -1] / arr[:, -1].sum())
    return arr[idx, :-1]


def _pick(rng: np.random.Generator, weights: FloatArray, size: int, what: str) -> IntArray:
    """``size`` distinct indices drawn with probability proportional to ``weights``."""
    if size > int(np.count_nonzero(weights)):
        raise ValueError(f"cannot place {size} {what}: only {np.count_nonzero(weights)} hosts")
    return np.asarray(rng.choice(len(weights), size=size, replace=False, p=weights / weights.sum()))


def draw_fleet(cfg: TwinConfig, sites: tuple[Site, ...], rng: np.random.Generator) -> Fleet:
    """Customers per site, their peaks, the DER fleet and the transformer size of every site."""
    commercial_site = np.array([s.commercial for s in sites])
    group = np.array([s.group for s in sites])
    feeder = np.array([s.feeder for s in sites])
    lo, hi = cfg.res_per_transformer
    per_site = np.where(commercial_site, 1, rng.integers(lo, hi + 1, size=len(sites)))
    load_site = np.repeat(np.arange(len(sites)), per_site)
    starts = np.cumsum(per_site) - per_site
    load_number = np.arange(len(load_site)) - starts[load_site] + 1
    is_com = commercial_site[load_site]
    n_loads = len(load_site)
    peak = rng.triangular(*cfg.res_peak_kw, size=n_loads)
    com_peak = cfg.com_peak_kw_median * rng.lognormal(0.0, 0.75, size=n_loads)
    peak = np.where(is_com, np.clip(com_peak, *cfg.com_peak_kw_range), peak).round(2)

    # residential PV, clustered by lateral and by feeder
    adoption = rng.beta(cfg.pv_clustering, cfg.pv_clustering, size=int(group.max()) + 2)
    feeder_factor = rng.lognormal(0.0, 0.5, size=cfg.n_feeders)
    w_home = np.where(
        is_com, 0.0, adoption[group[load_site]] * feeder_factor[feeder[load_site]] + 1e-3
    )
    pv_res = _pick(rng, w_home, cfg.n_pv_res, "residential PV systems")
    pv_res_kw = _choice(rng, RES_PV_AC_KW, cfg.n_pv_res)[:, 0]
    shares = np.array([o[2] for o in PV_ORIENTATIONS])
    orient = rng.choice(len(shares), size=cfg.n_pv_res, p=shares / shares.sum())
    # commercial PV on the larger roofs
    pv_com = _pick(rng, np.where(is_com, np.sqrt(peak), 0.0), cfg.n_pv_com, "commercial PV")
    pv_com_kw = (np.clip(peak[pv_com] * rng.uniform(0.5, 1.3, cfg.n_pv_com), 50, 500) / 5).round()
    pv_com_kw *= 5.0
    # batteries mostly beside PV, EV chargers anywhere
    has_pv = np.zeros(n_loads, dtype=bool)
    has_pv[pv_res] = True
    share = cfg.battery_with_pv_share
    w_bat = np.where(is_com, 0.0, np.where(has_pv, share / max(cfg.n_pv_res, 1), 0.0))
    w_bat += np.where(is_com | has_pv, 0.0, (1 - share) / max(n_loads - cfg.n_pv_res, 1))
    bat = _pick(rng, w_bat, cfg.n_battery, "batteries")
    bat_rating = _choice(rng, RES_BATTERY, cfg.n_battery)
    ev = _pick(rng, np.where(is_com, 0.0, 1.0), cfg.n_ev, "EV chargers")
    ev_kw = _choice(rng, EV_CHARGER_KW, cfg.n_ev)[:, 0]

    der_load = np.concatenate([pv_res, pv_com, bat, ev])
    kind = np.repeat([PV, PV, BATTERY, EV_CHARGER], [len(pv_res), len(pv_com), len(bat), len(ev)])
    p_max = np.concatenate([pv_res_kw, pv_com_kw, bat_rating[:, 1], np.zeros(len(ev))])
    p_min = np.concatenate([np.zeros(len(pv_res) + len(pv_com)), -bat_rating[:, 1], -ev_kw])
    e_kwh = np.concatenate(
        [np.zeros(len(pv_res) + len(pv_com)), bat_rating[:, 0], np.zeros(len(ev))]
    )
    orientation = np.concatenate(
        [orient, np.full(len(pv_com), PV_COMMERCIAL_ORIENTATION), np.full(len(bat) + len(ev), -1)]
    )
    order = np.lexsort((kind, der_load))  # DER listed customer by customer
    site_type = _size_transformers(
        cfg,
        rng,
        load_site=load_site,
        peak_kw=peak,
        commercial_site=commercial_site,
        der_load=der_load,
        der_p_max_kw=p_max,
        der_p_min_kw=p_min,
        der_kind=kind,
    )
    return Fleet(
        site_type=site_type,
        load_site=load_site,
        load_number=load_number,
        load_commercial=is_com,
        load_peak_kw=peak,
        der_kind=kind[order],
        der_load=der_load[order],
        der_p_max_kw=p_max[order],
        der_p_min_kw=p_min[order],
        der_e_kwh=e_kwh[order],
        der_orientation=orientation[order],
    )


def _size_transformers(
    cfg: TwinConfig,
    rng: np.random.Generator,
    *,
    load_site: IntArray,
    peak_kw: FloatArray,
    commercial_site: BoolArray,
    der_load: IntArray,
    der_p_max_kw: FloatArray,
    der_p_min_kw: FloatArray,
    der_kind: IntArray,
) -> IntArray:
    """Catalogue index of each site's transformer: diversified peak load, then PV margin."""
    n_sites = len(commercial_site)
    customers = np.bincount(load_site, minlength=n_sites)
    peak_sum = np.bincount(load_site, weights=peak_kw, minlength=n_sites)
    # peaks are already diversified shapes; a little more coincidence for few customers
    diversity = 0.85 + 0.15 / np.sqrt(np.maximum(customers, 1))
    load_kva = peak_sum * diversity / 0.95
    pv_site = load_site[der_load[der_kind == PV]]
    pv_kw = np.bincount(pv_site, weights=der_p_max_kw[der_kind == PV], minlength=n_sites)
    ev_site = load_site[der_load[der_kind == EV_CHARGER]]
    ev_kw = np.bincount(ev_site, weights=-der_p_min_kw[der_kind == EV_CHARGER], minlength=n_sites)
    load_kva += 0.7 * ev_kw
    lo, hi = cfg.pv_transformer_margin
    need_kva = np.maximum(load_kva, pv_kw * rng.uniform(lo, hi, size=n_sites))
    res = pick_transformer(RESIDENTIAL_TRANSFORMERS, need_kva)
    com = pick_transformer(COMMERCIAL_TRANSFORMERS, np.maximum(load_kva, pv_kw * 1.05))
    return np.where(commercial_site, com, res)
