"""Presets of the twin: frozen configurations, one per named substation size.

Each preset fixes the layout (feeders, trunk and lateral sizes), the customers and the exact
number of DER of each kind; the seed then draws everything else. Powers are ratings: PV in AC
kW (generator convention when it runs), loads as per-customer 15-minute peaks in kW (load
convention).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class TwinConfig:
    """Everything that shapes a generated substation apart from the seed."""

    name: str
    # substation
    source_kv: float = 66.0
    source_v_pu: float = 1.03
    source_sc_mva: float = 1500.0  # three-phase short-circuit level of the 66 kV system
    source_x_r: float = 8.0
    n_banks: int = 2  # 66/12 kV transformers, each feeding its own 12 kV bus section
    feeder_kv: float = 12.0
    ltc_v_set_v: float | None = (
        123.0  # bank on-load tap changer set point (120 V base); None: fixed
    )
    ltc_band_v: float = 2.0
    bank_tap_pu: float = 0.975  # present LTC position (12 kV winding), where every solve starts
    sub_cap_kvar: float = 1800.0  # fixed 12 kV capacitor bank per bus section (0: none)
    feeder_cap_kvar: float = 900.0  # fixed pole-top banks along each trunk (0: none)
    feeder_cap_at: tuple[float, ...] = (0.45, 0.85)  # where, as shares of the trunk length
    # layout
    n_feeders: int = 7
    sector_deg: float = 360.0  # angle the feeders fan out over (360: all around)
    trunk_nodes: tuple[int, int] = (29, 35)  # per feeder, drawn uniformly
    trunk_span_m: tuple[float, float] = (170.0, 260.0)
    end_branch_nodes: int = 6  # trunk-size branches at the trunk end, towards the neighbours
    lateral_span_m: tuple[float, float] = (110.0, 170.0)
    lateral_nodes_max: int = 9
    lateral_fill: float = 0.8  # share of the half-wedge a lateral reaches
    sublateral_prob: float = 0.45  # chance a long lateral has a branch heading outwards
    first_lateral: int = 3  # trunk nodes nearer the substation carry commercial load only
    sectionalisers: int = 2  # along each trunk
    # customers
    res_per_transformer: tuple[int, int] = (3, 9)  # homes per service transformer, uniform
    res_peak_kw: tuple[float, float, float] = (1.0, 2.6, 5.0)  # triangular (min, mode, max)
    com_per_trunk_node: float = 0.9  # expected commercial customers per trunk node
    com_peak_kw_median: float = 55.0
    com_peak_kw_range: tuple[float, float] = (20.0, 500.0)
    # DER fleet: exact counts
    n_pv_res: int = 5850
    n_pv_com: int = 150
    n_battery: int = 2400
    n_ev: int = 1600
    battery_with_pv_share: float = 0.85
    pv_clustering: float = 1.2  # Beta(a, a) spread of PV adoption between laterals
    pv_transformer_margin: tuple[float, float] = (0.45, 0.95)  # kVA per kW of PV behind it
    # design day
    day: date = date(2024, 7, 17)
    timezone: str = "America/Los_Angeles"
    latitude_deg: float = 34.05
    longitude_deg: float = -117.6
    altitude_m: float = 300.0
    cloudiness: float = 0.04  # depth of the autocorrelated cloud noise (0: clear sky)

    @property
    def n_der(self) -> int:
        return self.n_pv_res + self.n_pv_com + self.n_battery + self.n_ev


#: named presets (read-only)
PRESETS: Mapping[str, TwinConfig] = MappingProxyType(
    {
        "small": TwinConfig(
            name="small",
            n_banks=1,
            ltc_v_set_v=124.0,
            bank_tap_pu=1.0,
            sub_cap_kvar=600.0,
            feeder_cap_kvar=600.0,
            feeder_cap_at=(0.6,),
            pv_transformer_margin=(0.4, 0.9),
            n_feeders=2,
            sector_deg=110.0,
            trunk_nodes=(12, 14),
            end_branch_nodes=4,
            lateral_nodes_max=6,
            res_per_transformer=(2, 5),
            com_per_trunk_node=0.3,
            n_pv_res=210,
            n_pv_com=4,
            n_battery=50,
            n_ev=36,
        ),
        "medium": TwinConfig(
            name="medium",
            n_banks=1,
            n_feeders=3,
            sector_deg=160.0,
            trunk_nodes=(20, 24),
            n_pv_res=1500,
            n_pv_com=40,
            n_battery=560,
            n_ev=400,
        ),
        "camden": TwinConfig(name="camden"),
    }
)
