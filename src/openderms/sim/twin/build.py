"""Assemble a twin: substation, feeders, service transformers, customers, DER, design day."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from openderms.grid.model import (
    PHASES_ABC,
    Bus,
    Capacitor,
    Conn,
    Der,
    DerKind,
    Load,
    Network,
    Regulator,
    Source,
    Switch,
    Transformer,
    Winding,
)
from openderms.grid.powerflow import InjectionSeries
from openderms.sim.twin.catalog import (
    COMMERCIAL_TRANSFORMERS,
    RESIDENTIAL_TRANSFORMERS,
    SUBSTATION_TRANSFORMER,
    TransformerType,
)
from openderms.sim.twin.config import PRESETS, TwinConfig
from openderms.sim.twin.customers import DER_KIND_NAMES, Fleet, draw_fleet
from openderms.sim.twin.layout import FeederLayout, Site, Tie, draw_layout
from openderms.sim.twin.profiles import DayProfiles, day_profiles, local_hours

RES_LV_KV = 0.208
COM_LV_KV = 0.48
_DER_PREFIX = {"pv": "PV", "battery": "BAT", "ev_charger": "EV"}


@dataclass(frozen=True, slots=True)
class Twin:
    """A generated substation with its design day.

    ``network`` is at the solar-noon operating point (loads in load convention, DER in
    generator convention); ``profiles.injections`` holds all 96 steps, its columns in
    ``network.loads`` / ``network.ders`` order. ``feeders`` and ``ties`` name the switches a
    switching scenario operates.
    """

    preset: str
    seed: int
    config: TwinConfig
    network: Network
    profiles: DayProfiles
    feeders: tuple[FeederLayout, ...]
    ties: tuple[Tie, ...]
    substation_transformers: tuple[str, ...]
    bus_tie: str | None  # normally-open 12 kV bus-tie breaker between the banks, if two
    noon_step: int  # solar noon: the operating point of ``network``
    night_step: int  # 3 am local
    evening_peak_step: int  # highest net load (loads minus DER)

    @property
    def timestamps(self) -> tuple[datetime, ...]:
        return self.profiles.timestamps

    @property
    def injections(self) -> InjectionSeries:
        return self.profiles.injections

    def network_at(self, step: int) -> Network:
        """``network`` with every load and DER set to the design day's step ``step``."""
        return with_injections(self.network, self.profiles.injections, step)


def with_injections(net: Network, injections: InjectionSeries, step: int) -> Network:
    """``net`` with load and DER powers taken from row ``step`` of ``injections``."""
    lp, lq = injections.load_p_kw[step].tolist(), injections.load_q_kvar[step].tolist()
    dp, dq = injections.der_p_kw[step].tolist(), injections.der_q_kvar[step].tolist()
    loads = tuple(
        dataclasses.replace(ld, p_kw=p, q_kvar=q)
        for ld, p, q in zip(net.loads, lp, lq, strict=True)
    )
    ders = tuple(
        dataclasses.replace(d, p_kw=p, q_kvar=q) for d, p, q in zip(net.ders, dp, dq, strict=True)
    )
    return dataclasses.replace(net, loads=loads, ders=ders)


def design_day(twin: Twin) -> tuple[tuple[datetime, ...], InjectionSeries]:
    """The twin's 96 UTC step starts and its injections (columns: loads, then DER, in order).

    Load columns in load convention (positive = consumed), DER columns in generator
    convention (positive = export).
    """
    return twin.profiles.timestamps, twin.profiles.injections


def preset_names() -> tuple[str, ...]:
    """Names accepted by ``build_twin``."""
    return tuple(PRESETS)


def build_twin(preset: str = "camden", seed: int = 0, *, config: TwinConfig | None = None) -> Twin:
    """Generate the substation of ``preset`` (or of ``config``), deterministically for ``seed``."""
    if config is None:
        try:
            config = PRESETS[preset]
        except KeyError:
            raise ValueError(
                f"unknown twin preset {preset!r}; expected one of {preset_names()}"
            ) from None
    cfg = config
    rng = np.random.default_rng([seed, 0x7717])
    sub_buses, sources, sub_transformers, sub_switches = _substation(cfg)
    bank_buses = tuple(t.windings[1].bus for t in sub_transformers)
    layout = draw_layout(cfg, rng, bank_buses)
    fleet = draw_fleet(cfg, layout.sites, rng)
    profiles = day_profiles(cfg, fleet, rng)
    noon = profiles.solar_noon_step
    inj = profiles.injections
    lv_buses, service = _service_transformers(cfg, layout.sites, fleet)
    loads = _loads(layout.sites, fleet, inj, noon)
    ders = _ders(layout.sites, fleet, inj, noon)
    net = Network(
        name=cfg.name,
        buses=(*sub_buses, *layout.buses, *lv_buses),
        sources=sources,
        lines=layout.lines,
        switches=(*sub_switches, *layout.switches),
        transformers=(*sub_transformers, *service),
        regulators=_ltcs(cfg, sub_transformers),
        capacitors=(*_substation_caps(cfg, bank_buses), *layout.capacitors),
        loads=loads,
        ders=ders,
        feeders=layout.feeders,
        notes=(
            f"openderms digital twin, preset {cfg.name!r}, seed {seed}",
            "balanced three-phase equivalent of every element (see openderms.sim.twin)",
            f"operating point: solar noon of {cfg.day.isoformat()} ({cfg.timezone})",
        ),
    )
    hours = local_hours(cfg, profiles.timestamps)
    net_load = inj.load_p_kw.sum(axis=1) - inj.der_p_kw.sum(axis=1)
    return Twin(
        preset=cfg.name,
        seed=seed,
        config=cfg,
        network=net,
        profiles=profiles,
        feeders=layout.feeder_layouts,
        ties=layout.ties,
        substation_transformers=tuple(t.id for t in sub_transformers),
        bus_tie=sub_switches[0].id if sub_switches else None,
        noon_step=noon,
        night_step=int(np.argmin(np.abs(hours - 3.0))),
        evening_peak_step=int(np.argmax(net_load)),
    )


def _winding(
    bus: str, conn: Conn, v_kv: float, tt: TransformerType, tap_pu: float = 1.0
) -> Winding:
    return Winding(
        bus=bus,
        nodes=PHASES_ABC,
        conn=conn,
        v_kv=v_kv,
        s_kva=tt.s_kva,
        r_pct=tt.r_pct,
        tap_pu=tap_pu,
    )


def _substation(
    cfg: TwinConfig,
) -> tuple[tuple[Bus, ...], tuple[Source, ...], tuple[Transformer, ...], tuple[Switch, ...]]:
    """66 kV source bus, the 66/12 kV banks and their 12 kV bus sections (bus tie open)."""
    hv = Bus("SUB_66", cfg.source_kv / math.sqrt(3.0), x=0.0, y=-40.0)
    z_ohm = cfg.source_kv**2 / cfg.source_sc_mva
    r1 = z_ohm / math.sqrt(1.0 + cfg.source_x_r**2)
    source = Source(
        id="SRC",
        bus=hv.id,
        v_base_kv_ll=cfg.source_kv,
        v_pu=cfg.source_v_pu,
        r1_ohm=r1,
        x1_ohm=r1 * cfg.source_x_r,
        r0_ohm=2 * r1,
        x0_ohm=3 * r1 * cfg.source_x_r,
    )
    buses, banks = [hv], []
    tt = SUBSTATION_TRANSFORMER
    for k in range(cfg.n_banks):
        lv = Bus(
            f"SUB_12_{k + 1}",
            cfg.feeder_kv / math.sqrt(3.0),
            x=30.0 * k - 15.0 * (cfg.n_banks - 1),
            y=0.0,
        )
        buses.append(lv)
        banks.append(
            Transformer(
                id=f"TX{k + 1}",
                phases=3,
                windings=(
                    _winding(hv.id, "delta", cfg.source_kv, tt),
                    _winding(lv.id, "wye", cfg.feeder_kv, tt, cfg.bank_tap_pu),
                ),
                x_pct=(tt.x_pct,),
                noload_loss_pct=tt.noload_loss_pct,
                imag_pct=tt.imag_pct,
                kind="substation",
                emergency_kva=tt.s_kva * 1.3,
            )
        )
    ties = tuple(
        Switch(
            id="SUB_BT",
            bus1=buses[1].id,
            bus2=buses[2].id,
            nodes1=PHASES_ABC,
            nodes2=PHASES_ABC,
            closed=False,
            normally_closed=False,
            ampacity_a=2000.0,
            kind="breaker",
        )
        for _ in range(1 if cfg.n_banks >= 2 else 0)
    )
    return tuple(buses), (source,), tuple(banks), ties


def _ltcs(cfg: TwinConfig, banks: tuple[Transformer, ...]) -> tuple[Regulator, ...]:
    """On-load tap changers holding each 12 kV bus section at ``ltc_v_set_v`` (120 V base)."""
    if cfg.ltc_v_set_v is None:
        return ()
    pt_ratio = cfg.feeder_kv * 1000.0 / math.sqrt(3.0) / 120.0
    return tuple(
        Regulator(
            id=f"LTC{k + 1}",
            transformer=tr.id,
            winding=2,
            v_set_v=cfg.ltc_v_set_v,
            band_v=cfg.ltc_band_v,
            pt_ratio=pt_ratio,
            ct_primary_a=1500.0,
        )
        for k, tr in enumerate(banks)
    )


def _substation_caps(cfg: TwinConfig, bank_buses: tuple[str, ...]) -> tuple[Capacitor, ...]:
    if cfg.sub_cap_kvar <= 0:
        return ()
    return tuple(
        Capacitor(
            id=f"{bus}_CAP",
            bus=bus,
            nodes=PHASES_ABC,
            conn="wye",
            q_kvar=cfg.sub_cap_kvar,
            v_kv=cfg.feeder_kv,
        )
        for bus in bank_buses
    )


def _service_transformers(
    cfg: TwinConfig, sites: tuple[Site, ...], fleet: Fleet
) -> tuple[tuple[Bus, ...], tuple[Transformer, ...]]:
    """One LV bus and one service transformer per site (sized in ``fleet.site_type``)."""
    buses, transformers = [], []
    for site, ti in zip(sites, fleet.site_type.tolist(), strict=True):
        com = site.commercial
        tt = COMMERCIAL_TRANSFORMERS[ti] if com else RESIDENTIAL_TRANSFORMERS[ti]
        lv_kv = COM_LV_KV if com else RES_LV_KV
        lv = Bus(f"{site.stem}_LV", lv_kv / math.sqrt(3.0), x=round(site.x, 1), y=round(site.y, 1))
        buses.append(lv)
        transformers.append(
            Transformer(
                id=f"XF_{site.stem}",
                phases=3,
                windings=(
                    _winding(site.bus, "delta" if com else "wye", cfg.feeder_kv, tt),
                    _winding(lv.id, "wye", lv_kv, tt),
                ),
                x_pct=(tt.x_pct,),
                noload_loss_pct=tt.noload_loss_pct,
                imag_pct=tt.imag_pct,
                kind="service",
                emergency_kva=tt.s_kva * 1.4,
            )
        )
    return tuple(buses), tuple(transformers)


def _customer_id(site: Site, number: int) -> str:
    return site.stem if site.commercial else f"{site.stem}_{number}"


def _loads(
    sites: tuple[Site, ...], fleet: Fleet, inj: InjectionSeries, step: int
) -> tuple[Load, ...]:
    out = []
    p, q = inj.load_p_kw[step].tolist(), inj.load_q_kvar[step].tolist()
    for j, (si, num) in enumerate(
        zip(fleet.load_site.tolist(), fleet.load_number.tolist(), strict=True)
    ):
        site = sites[si]
        v_kv = COM_LV_KV if site.commercial else RES_LV_KV
        out.append(
            Load(
                id=f"LD_{_customer_id(site, num)}",
                bus=f"{site.stem}_LV",
                nodes=PHASES_ABC,
                conn="wye",
                p_kw=p[j],
                q_kvar=q[j],
                v_kv=v_kv,
            )
        )
    return tuple(out)


def _ders(
    sites: tuple[Site, ...], fleet: Fleet, inj: InjectionSeries, step: int
) -> tuple[Der, ...]:
    out = []
    p = inj.der_p_kw[step].tolist()
    host_site = fleet.load_site[fleet.der_load].tolist()
    host_number = fleet.load_number[fleet.der_load].tolist()
    rows = zip(
        fleet.der_kind.tolist(),
        host_site,
        host_number,
        fleet.der_p_max_kw.tolist(),
        fleet.der_p_min_kw.tolist(),
        fleet.der_e_kwh.tolist(),
        strict=True,
    )
    for j, (kind_code, si, num, p_max, p_min, e_kwh) in enumerate(rows):
        site = sites[si]
        kind: DerKind = DER_KIND_NAMES[kind_code]  # type: ignore[assignment]
        out.append(
            Der(
                id=f"{_DER_PREFIX[kind]}_{_customer_id(site, num)}",
                bus=f"{site.stem}_LV",
                nodes=PHASES_ABC,
                kind=kind,
                p_kw=p[j],
                q_kvar=0.0,
                p_max_kw=p_max,
                s_kva=max(p_max, -p_min),
                v_kv=COM_LV_KV if site.commercial else RES_LV_KV,
                p_min_kw=p_min,
                e_kwh=e_kwh,
            )
        )
    return tuple(out)
