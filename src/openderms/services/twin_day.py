"""The main job on the embedded default: a twin substation's noon state and design day.

Builds the twin, derives its topology and topology nodes, solves noon (uncontrolled PV, the
pilot's problem case) and the 96-step design day, lets the DERMS dispatch the fleet at noon
(AC-checked LinDistFlow OPF) and draws the pictures an operator would look at first: noon
uncontrolled, noon under control, and the day.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from openderms.control import ControlPlan, Fleet, LinearGrid, dispatch_opf, pgm_ac
from openderms.grid.engines.pgm import PgmEngine
from openderms.grid.model import Network
from openderms.grid.powerflow import PowerFlowResult, SeriesResult
from openderms.grid.topology import Topology, derive_topology
from openderms.grid.topology_nodes import group_ders
from openderms.reporting.plots import plot_day, plot_network_state
from openderms.sim.twin import Twin, build_twin


@dataclass(frozen=True, slots=True)
class TwinDayReport:
    """What the run found. Powers in kW, generator convention for DER, substation import
    positive (negative = reverse flow)."""

    twin: Twin
    topology: Topology
    noon: PowerFlowResult
    day: SeriesResult
    plan: ControlPlan
    noon_controlled: PowerFlowResult
    n_topology_nodes: int
    pictures: tuple[Path, ...]

    @property
    def network(self) -> Network:
        return self.twin.network

    def lines(self) -> Iterator[tuple[str, str]]:
        """Summary rows (label, value) for a table."""
        net, noon, day = self.network, self.noon, self.day
        limits_hi = np.array([b.v_max_pu for b in net.buses])
        bus_index = {b.id: i for i, b in enumerate(net.buses)}
        hi = limits_hi[[bus_index[b] for b in noon.node_bus]]
        over = {b for b, v, h in zip(noon.node_bus, noon.v_pu, hi, strict=True) if v > h}
        pv_kw = sum(d.p_kw for d in net.ders if d.kind == "pv")
        yield (
            "buses / lines / transformers",
            (f"{len(net.buses):,} / {len(net.lines):,} / {len(net.transformers):,}"),
        )
        yield "customers / DER", f"{sum(ld.customers for ld in net.loads):,} / {len(net.ders):,}"
        yield "feeders / topology nodes", f"{len(net.feeders)} / {self.n_topology_nodes:,}"
        yield "noon PV output", f"{pv_kw / 1000:,.1f} MW"
        yield "noon substation import", f"{noon.substation_p_kw / 1000:,.2f} MW"
        live = noon.v_pu[noon.v_pu > 0]
        yield "noon voltage range", f"{live.min():.4f} - {live.max():.4f} pu"
        yield "noon buses above their limit", f"{len(over):,}"
        yield "noon branches above 100 %", f"{int((noon.loading_pct > 100).sum()):,}"
        yield "noon solve", f"{noon.engine}, {noon.solve_s * 1000:.1f} ms"
        plan, after = self.plan, self.noon_controlled
        yield "DERMS at noon: violations before", f"{len(plan.violations_before):,}"
        yield (
            "DERMS at noon: controls sent",
            (
                f"{len(plan.controls):,} ({plan.q_used_kvar:,.0f} kvar absorbed, "
                f"{plan.curtailed_kw:,.1f} kW curtailed, {plan.shifted_kw:,.1f} kW storage moved)"
            ),
        )
        left = len(plan.actionable_ac_violations)
        outside = len(plan.outside_control)
        yield (
            "DERMS at noon: AC check after",
            (
                f"{left} violations DER can act on; {outside} beyond DER control; "
                f"{after.v_pu[after.v_pu > 0].max():.4f} pu highest"
            ),
        )
        yield "DERMS at noon: dispatch time", f"{plan.solve_s:.2f} s, {plan.iterations} AC rounds"
        p_mw = day.substation_p_kw / 1000.0
        yield "day: peak import / min import", f"{p_mw.max():,.1f} / {p_mw.min():,.1f} MW"
        lo = np.array([b.v_min_pu for b in net.buses])[[bus_index[b] for b in day.node_bus]]
        hi_day = limits_hi[[bus_index[b] for b in day.node_bus]]
        live_day = day.v_pu > 0
        over_day = ((day.v_pu > hi_day) & live_day).any(axis=1)
        under_day = ((day.v_pu < lo) & live_day).any(axis=1)
        n = day.v_pu.shape[0]
        yield (
            "day: steps over / under voltage",
            (f"{int(over_day.sum())} / {int(under_day.sum())} of {n}"),
        )
        yield "day solve (96 steps)", f"{day.engine}, {day.solve_s:.2f} s"


def run_twin_day(preset: str, seed: int, out_dir: Path) -> TwinDayReport:
    """Build the twin ``preset``/``seed``, solve noon and the day, write pictures to ``out_dir``."""
    twin = build_twin(preset, seed)
    net = twin.network
    topo = derive_topology(net)
    nodes = group_ders(net, topo)
    engine = PgmEngine()  # the twin is three-phase balanced: one conversion serves every solve
    noon = engine.solve(net)
    day = engine.solve_series(net, twin.injections)
    model = engine.model(net)
    fleet = Fleet.from_network(net)
    ac = pgm_ac(model)
    plan = dispatch_opf(net, fleet, LinearGrid.build(net), ac, base=noon)
    after = ac(plan.der_p_kw, plan.der_q_kvar)
    pictures = (
        plot_network_state(
            net,
            topo,
            noon,
            out_dir / f"{preset}-noon.png",
            f"'{preset}' twin at solar noon, uncontrolled PV ({len(net.ders):,} DER)",
        ),
        plot_network_state(
            net,
            topo,
            after,
            out_dir / f"{preset}-noon-controlled.png",
            f"'{preset}' twin at solar noon under DERMS control ({len(plan.controls):,} controls)",
        ),
        plot_day(
            twin.timestamps,
            day,
            out_dir / f"{preset}-day.png",
            f"'{preset}' twin: design day, uncontrolled DER",
        ),
    )
    return TwinDayReport(twin, topo, noon, day, plan, after, len(nodes), pictures)
