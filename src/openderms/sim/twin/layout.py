"""Medium-voltage layout of the twin: feeders, trunks, laterals, switches, ties, service sites.

The substation sits at the origin; feeder ``k`` serves a wedge of the sector and runs a
three-phase 336 kcmil ACSR trunk out along the wedge's bisector (wandering a little, like a
street route). Each trunk ends in a "T": two trunk-size branches run sideways towards the
neighbouring wedges, and a normally-open tie switch joins the branch ends of neighbouring
feeders. Fused 1/0 ACSR laterals leave the trunk on alternate sides and reach across the
wedge; long laterals may fork outwards. Coordinates are metres east (x) and north (y).

The layout fixes where service transformers go (``Site``): one residential site on every
lateral and end-branch node, commercial sites along the trunk. Customers are added later.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from openderms.grid.model import PHASES_ABC, Bus, Capacitor, Feeder, Line, Switch
from openderms.sim.twin.catalog import (
    ACSR_1_0,
    ACSR_4_0,
    ACSR_336,
    LineCode,
    conductor_kv_ln,
    overhead_linecode,
)
from openderms.sim.twin.config import TwinConfig


@dataclass(frozen=True, slots=True)
class Tie:
    """A normally-open tie switch between the trunk-end branches of two feeders."""

    switch: str
    feeder_a: str
    bus_a: str
    feeder_b: str
    bus_b: str


@dataclass(frozen=True, slots=True)
class FeederLayout:
    """What a switching scenario needs to know about one feeder."""

    id: str
    bank: int  # index of the substation transformer feeding it
    head_breaker: str
    sectionalisers: tuple[str, ...]  # along the trunk, from the substation outwards
    trunk_buses: tuple[str, ...]  # from the head outwards
    ties: tuple[str, ...]  # tie switch ids at this feeder's ends


@dataclass(frozen=True, slots=True)
class Site:
    """A medium-voltage bus that gets a service transformer (residential or commercial)."""

    stem: str  # id stem of what hangs off it (transformer, LV bus, customers)
    bus: str
    x: float
    y: float
    feeder: int
    group: int  # lateral number across the substation (PV adoption clusters by it); -1 commercial

    @property
    def commercial(self) -> bool:
        return self.group < 0


SwitchKind = Literal["breaker", "sectionaliser", "tie", "fuse"]


@dataclass(frozen=True, slots=True)
class Layout:
    """The drawn medium-voltage network (substation buses excluded) and its service sites."""

    buses: tuple[Bus, ...]
    lines: tuple[Line, ...]
    switches: tuple[Switch, ...]
    capacitors: tuple[Capacitor, ...]
    feeders: tuple[Feeder, ...]
    feeder_layouts: tuple[FeederLayout, ...]
    ties: tuple[Tie, ...]
    sites: tuple[Site, ...]


def draw_layout(cfg: TwinConfig, rng: np.random.Generator, bank_buses: tuple[str, ...]) -> Layout:
    """Draw every feeder of ``cfg`` from the 12 kV bank buses outwards (seeded by ``rng``)."""
    d = _Drawer(cfg, rng)
    n = cfg.n_feeders
    wedge = math.radians(cfg.sector_deg) / n
    start = math.pi / 2 - math.radians(cfg.sector_deg) / 2  # the fan is centred on north
    ends: list[tuple[_End, _End]] = []
    layouts: list[FeederLayout] = []
    for k in range(n):
        bank = min(k * len(bank_buses) // n, len(bank_buses) - 1)
        fl, end_pair = d.feeder(
            k, bank, bank_buses[bank], theta=start + (k + 0.5) * wedge, wedge=wedge
        )
        layouts.append(fl)
        ends.append(end_pair)
    ties = d.ties(ends)
    by_feeder: dict[str, list[str]] = {}
    for t in ties:
        by_feeder.setdefault(t.feeder_a, []).append(t.switch)
        by_feeder.setdefault(t.feeder_b, []).append(t.switch)
    layouts = [dataclasses.replace(fl, ties=tuple(by_feeder.get(fl.id, ()))) for fl in layouts]
    return Layout(
        buses=tuple(d.buses),
        lines=tuple(d.lines),
        switches=tuple(d.switches),
        capacitors=tuple(d.capacitors),
        feeders=tuple(Feeder(fl.id, fl.head_breaker) for fl in layouts),
        feeder_layouts=tuple(layouts),
        ties=ties,
        sites=tuple(d.sites),
    )


def _step(x: float, y: float, heading: float, length_m: float) -> tuple[float, float]:
    return x + length_m * math.cos(heading), y + length_m * math.sin(heading)


@dataclass(frozen=True, slots=True)
class _End:
    """The last bus of a trunk-end branch."""

    feeder: str
    bus: str
    x: float
    y: float


@dataclass(slots=True)
class _Drawer:
    """Scratch lists while one layout is drawn (lives only inside ``draw_layout``)."""

    cfg: TwinConfig
    rng: np.random.Generator
    trunk_code: LineCode = field(default_factory=lambda: overhead_linecode(ACSR_336, ACSR_4_0))
    lateral_code: LineCode = field(default_factory=lambda: overhead_linecode(ACSR_1_0, ACSR_1_0))
    buses: list[Bus] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    switches: list[Switch] = field(default_factory=list)
    sites: list[Site] = field(default_factory=list)
    capacitors: list[Capacitor] = field(default_factory=list)
    n_groups: int = 0

    def bus(self, bus_id: str, x: float, y: float) -> str:
        kv_ln = conductor_kv_ln(self.cfg.feeder_kv)
        self.buses.append(Bus(bus_id, kv_ln, x=round(x, 1), y=round(y, 1)))
        return bus_id

    def line(self, a: str, b: str, length_m: float, code: LineCode) -> None:
        self.lines.append(
            Line(
                id=f"LN_{b}",
                bus1=a,
                bus2=b,
                nodes1=PHASES_ABC,
                nodes2=PHASES_ABC,
                length_km=max(length_m, 10.0) / 1000.0,
                r_ohm_per_km=code.r_ohm_per_km,
                x_ohm_per_km=code.x_ohm_per_km,
                c_nf_per_km=code.c_nf_per_km,
                ampacity_a=code.ampacity_a,
                emergency_a=code.emergency_a,
            )
        )

    def switch(self, sw_id: str, a: str, b: str, kind: SwitchKind, *, amps: float) -> str:
        closed = kind != "tie"
        self.switches.append(
            Switch(
                id=sw_id,
                bus1=a,
                bus2=b,
                nodes1=PHASES_ABC,
                nodes2=PHASES_ABC,
                closed=closed,
                normally_closed=closed,
                ampacity_a=amps,
                kind=kind,
            )
        )
        return sw_id

    def site(self, bus: str, x: float, y: float, k: int, *, group: int, stem: str = "") -> None:
        self.sites.append(Site(stem or bus, bus, x, y, k, group))

    def new_group(self) -> int:
        self.n_groups += 1
        return self.n_groups - 1

    def feeder(
        self, k: int, bank: int, bank_bus: str, *, theta: float, wedge: float
    ) -> tuple[FeederLayout, tuple[_End, _End]]:
        """Head breaker, wandering trunk with sectionalisers and laterals, end branches."""
        cfg, rng = self.cfg, self.rng
        fid = f"F{k + 1}"
        x, y = _step(0.0, 0.0, theta, 60.0)
        head = self.bus(f"{fid}_H", x, y)
        breaker = self.switch(f"{fid}_CB", bank_bus, head, "breaker", amps=600.0)
        n_trunk = int(rng.integers(cfg.trunk_nodes[0], cfg.trunk_nodes[1] + 1))
        n_sect = cfg.sectionalisers
        sect_at = {round((j + 1) * n_trunk / (n_sect + 1)) for j in range(n_sect)}
        cap_at = {round(share * n_trunk) for share in cfg.feeder_cap_at}
        first_cap = len(self.capacitors)
        prev, offset = head, 0.0
        trunk_buses, sects = [head], list[str]()
        for i in range(1, n_trunk + 1):
            span = float(rng.uniform(*cfg.trunk_span_m))
            offset = float(np.clip(offset + rng.normal(0.0, 0.04), -0.3 * wedge, 0.3 * wedge))
            heading = theta + offset
            if i in sect_at:
                sw_bus = self.bus(f"{fid}_T{i:02d}S", *_step(x, y, heading, 10.0))
                sw_id = f"{fid}_SEC{len(sects) + 1}"
                sects.append(self.switch(sw_id, prev, sw_bus, "sectionaliser", amps=600.0))
                prev = sw_bus
            x, y = _step(x, y, heading, span)
            node = self.bus(f"{fid}_T{i:02d}", x, y)
            self.line(prev, node, span, self.trunk_code)
            trunk_buses.append(node)
            prev = node
            if i in cap_at and cfg.feeder_cap_kvar > 0:
                cap_id = f"{fid}_CAP{len(self.capacitors) + 1 - first_cap}"
                kvar = cfg.feeder_cap_kvar
                self.capacitors.append(
                    Capacitor(
                        id=cap_id,
                        bus=node,
                        nodes=PHASES_ABC,
                        conn="wye",
                        q_kvar=kvar,
                        v_kv=cfg.feeder_kv,
                    )
                )
            n_com = int(rng.poisson(cfg.com_per_trunk_node))
            for c in range(max(n_com, 1) if i < cfg.first_lateral else n_com):
                self.site(node, x + 14.0 * (c + 1), y - 10.0, k, group=-1, stem=f"{node}_C{c + 1}")
            if cfg.first_lateral <= i < n_trunk:
                side = 1.0 if i % 2 == 0 else -1.0
                reach = math.hypot(x, y) * math.tan(wedge / 2) * cfg.lateral_fill
                self.lateral(
                    f"{fid}_L{i:02d}",
                    node,
                    (x, y),
                    k,
                    heading=heading + side * math.pi / 2,
                    outward=heading,
                    reach_m=reach * float(rng.uniform(0.65, 1.0)),
                )
        half_width = math.hypot(x, y) * math.tan(wedge / 2) * 0.93
        ends = (
            self.end_branch(
                f"{fid}_EL", prev, (x, y), k, heading=theta + math.pi / 2, length_m=half_width
            ),
            self.end_branch(
                f"{fid}_ER", prev, (x, y), k, heading=theta - math.pi / 2, length_m=half_width
            ),
        )
        return FeederLayout(fid, bank, breaker, tuple(sects), tuple(trunk_buses), ()), ends

    def lateral(
        self,
        stem: str,
        tap: str,
        xy: tuple[float, float],
        k: int,
        *,
        heading: float,
        outward: float,
        reach_m: float,
    ) -> None:
        """A fused 1/0 ACSR lateral from trunk bus ``tap``, possibly forking outwards halfway."""
        cfg, rng = self.cfg, self.rng
        x, y = _step(*xy, heading, 15.0)
        fuse_bus = self.bus(f"{stem}F", x, y)
        self.switch(stem.replace("_L", "_FU"), tap, fuse_bus, "fuse", amps=100.0)
        span_lo, span_hi = cfg.lateral_span_m
        n_nodes = int(np.clip(round(2 * reach_m / (span_lo + span_hi)), 2, cfg.lateral_nodes_max))
        group = self.new_group()
        prev = fuse_bus
        fork: tuple[str, float, float] = (prev, x, y)
        for j in range(1, n_nodes + 1):
            span = float(rng.uniform(span_lo, span_hi))
            x, y = _step(x, y, heading + float(rng.normal(0.0, 0.05)), span)
            prev = self._node(f"{stem}_{j:02d}", prev, (x, y, span), k, group)
            if j == n_nodes // 2 + 1:
                fork = (prev, x, y)
        if n_nodes < 4 or rng.random() >= cfg.sublateral_prob:
            return
        prev, x, y = fork
        for j in range(1, int(rng.integers(2, 4)) + 1):
            span = float(rng.uniform(span_lo, span_hi))
            x, y = _step(x, y, outward, span)
            prev = self._node(f"{stem}_S{j}", prev, (x, y, span), k, group)

    def _node(
        self, bus_id: str, prev: str, xys: tuple[float, float, float], k: int, group: int
    ) -> str:
        """A lateral node fed from ``prev`` with a residential site beside it."""
        x, y, span = xys
        node = self.bus(bus_id, x, y)
        self.line(prev, node, span, self.lateral_code)
        self.site(node, x + 12.0, y + 12.0, k, group=group)
        return node

    def end_branch(
        self,
        stem: str,
        tap: str,
        xy: tuple[float, float],
        k: int,
        *,
        heading: float,
        length_m: float,
    ) -> _End:
        """A trunk-size branch from the trunk end towards a neighbouring wedge."""
        x, y = xy
        prev = tap
        span = length_m / self.cfg.end_branch_nodes
        group = self.new_group()
        for j in range(1, self.cfg.end_branch_nodes + 1):
            x, y = _step(x, y, heading, span)
            node = self.bus(f"{stem}{j}", x, y)
            self.line(prev, node, span, self.trunk_code)
            self.site(node, x + 12.0, y + 12.0, k, group=group)
            prev = node
        return _End(stem.split("_", maxsplit=1)[0], prev, x, y)

    def ties(self, ends: list[tuple[_End, _End]]) -> tuple[Tie, ...]:
        """Normally-open ties between the facing end branches of neighbouring feeders."""
        n = len(ends)
        pairs = [(k, k + 1) for k in range(n - 1)]
        if self.cfg.sector_deg >= 359.0 and n >= 3:
            pairs.append((n - 1, 0))
        out = []
        for a, b in pairs:
            end_a, end_b = ends[a][0], ends[b][1]  # a's counter-clockwise end meets b's other
            tie_id = f"TIE_{end_a.feeder}_{end_b.feeder}"
            tie_bus = self.bus(tie_id, end_b.x, end_b.y)
            length_m = math.hypot(end_a.x - end_b.x, end_a.y - end_b.y)
            self.line(end_a.bus, tie_bus, length_m, self.trunk_code)
            sw = self.switch(tie_id, tie_bus, end_b.bus, "tie", amps=600.0)
            out.append(Tie(sw, end_a.feeder, end_a.bus, end_b.feeder, end_b.bus))
        return tuple(out)
