"""The digital-twin substation: a seeded, realistic US distribution substation and its design day.

``build_twin("camden", seed=0)`` generates, deterministically for the seed, a substation like
the one SCE's EASE/OpFlex pilot used (about 4,000 buses and 10,000 DER, 7 feeders):

- a 66 kV source (1,500 MVA short-circuit level, X/R 8), two 28 MVA 66/12 kV delta-wye banks
  with on-load tap changers (123 V on a 120 V base) and fixed 12 kV capacitor banks, each bank
  feeding its own 12 kV bus section (normally-open bus-tie breaker ``SUB_BT``);
- feeders leaving through head breakers (``Feeder.head``): 336 kcmil ACSR trunks (530 A, Carson
  impedance matrices with mutual terms) with sectionalisers and fixed capacitor banks, fused
  1/0 ACSR laterals, and a trunk-end "T" whose branches meet the neighbouring feeders at
  normally-open tie switches, so a scenario can open a head breaker or sectionaliser and pick
  the load up from a neighbour;
- 25-150 kVA residential and 75-1,000 kVA commercial service transformers, one load per
  customer (homes 1-5 kW peak, businesses 20-500 kW), and a DER fleet of rooftop and commercial
  PV, home batteries and Level 2 EV chargers at the customers' low-voltage buses;
- bus coordinates in metres (the substation at the origin, feeders fanning out);
- a 15-minute design day (a clear July day at 34.05 N, 117.6 W, with light seeded cloud noise)
  as an ``InjectionSeries`` whose columns follow ``network.loads`` / ``network.ders``.

The network's operating point is solar noon, when uncontrolled PV lifts some low-voltage buses
above 1.05 pu and loads some service transformers past their rating; at night and at the
evening peak the substation is (nearly) within limits.

Deliberate simplification: **every element is a balanced three-phase equivalent** (nodes
``(1, 2, 3)``, transposed lines): single-phase laterals, 120/240 V split-phase secondaries and
single-phase loads and DER are represented by three-phase equivalents at 208 V (homes) or
480 V (businesses), and the secondary and service drops are lumped into the service
transformer's impedance. This keeps the twin inside what the fast power-grid-model engine
represents, so a snapshot solves in milliseconds. Signs follow DESIGN.md: loads positive when
consuming, DER in generator convention (positive = export; charging batteries and EV chargers
negative).
"""

from openderms.sim.twin.build import (
    Twin,
    build_twin,
    design_day,
    preset_names,
    with_injections,
)
from openderms.sim.twin.config import PRESETS, TwinConfig
from openderms.sim.twin.layout import FeederLayout, Tie
from openderms.sim.twin.profiles import DayProfiles

__all__ = [
    "PRESETS",
    "DayProfiles",
    "FeederLayout",
    "Tie",
    "Twin",
    "TwinConfig",
    "build_twin",
    "design_day",
    "preset_names",
    "with_injections",
]
