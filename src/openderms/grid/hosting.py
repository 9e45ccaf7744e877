"""Hosting capacity screening: how much export (or import) a bus takes, what binds, and the
remaining capacity as DER are granted one after another.

``HostingEngine.build(net, injections)`` is done once per network. It solves the hosting worst
cases with an AC power flow (``hosting_case``: minimum load with the export already granted,
peak load with the import already granted; the network's own DER removed), then screens with
LinDistFlow sensitivities (``grid.sensitivity``), computed in one batch for every bus asked
for (``prepare``: once per bus, not once per DER) and cached:

- voltage: ``min over monitored buses m of (v_max_m - v_m) / dv_dp[m, j]`` for export at bus
  j (import: ``(v_m - v_min_m) / dv_dp[m, j]`` at peak load);
- thermal: ``min over the tree edges on j's path of the headroom``; an edge carrying
  ``p + jq`` away from the source with limit ``S`` takes ``p + sqrt(S^2 - q^2)`` kW more
  export (reverse flow) and ``sqrt(S^2 - q^2) - p`` kW more import (with ``S`` lowered by
  the voltage drop that import causes, as the limit is a current). Ratings: lines, switches
  and reactors sqrt(3)·V·ampacity, transformers their kVA (``hosting_case.edge_ratings_kva``).

A grant updates the state linearly (``v += dv_dp[:, j] * P``; the flows on j's path change by
P), so later DER in the same batch see the remaining capacity; ``release`` undoes a grant.

Regulators (on-load tap changers, line regulators) hold their bus at the set point: with
``regulators_hold_voltage`` a bus below a regulator sees only the voltage change relative to
the regulated bus, so DER on one bank or feeder do not use up the voltage room of another
through the shared source impedance (the usual planning assumption: each feeder is studied
from a substation bus the tap changer holds). The regulator's dead band is the residual:
within it the tap does not move, so an AC check may see the regulated bus drift by a few
thousandths of a pu. ``regulator_dead_band_drift`` counts that drift too
(``hosting_regulators``): exact, but once one bus sits at its limit every DER of the bank
that would nudge the regulated bus is refused, so it is off by default.

A limit already broken in the base case before any registry grant (a bus above ``v_max`` at
minimum load, a branch over its rating) may not be worsened by more than
``existing_violation_tolerance_pu`` (voltage, cumulatively over all grants) or at all
(thermal): a DER is not refused for a violation it does not make materially worse, and many
DER cannot together make it worse.

Sign conventions: export kW in generator convention (positive = into the grid); import kW are
positive numbers of kW drawn from the grid. ``dv_dp`` is pu per kW exported.

Accuracy: LinDistFlow is lossless at flat voltage, so it slightly overstates the voltage rise
(the hosting capacity is conservative); ``verify`` re-checks any set of grants with a full AC
power flow of the same worst case.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from openderms.errors import UnknownElementError
from openderms.grid.hosting_case import (
    AcCheck,
    CaseLoads,
    Constraint,
    FloatArray,
    LinearCase,
    ac_check,
    branch_kinds,
    case_loads,
    case_state,
    path_edges,
    slot_network,
    solve_case,
)
from openderms.grid.hosting_regulators import regulated_zones, split, voltage_capacity
from openderms.grid.model import Network
from openderms.grid.powerflow import EngineName, InjectionSeries
from openderms.grid.sensitivity import energised_buses, lindistflow
from openderms.grid.topology import Topology, derive_topology

Direction = Literal["export", "import"]
__all__ = ["AcCheck", "BusScreen", "Constraint", "Direction", "HostingEngine", "HostingRules"]
_EPS = 1e-12


@dataclass(frozen=True, slots=True)
class HostingRules:
    """Knobs of the hosting worst cases (see ``hosting_case``)."""

    min_load_fraction: float = 0.3  # minimum load as a share of the model's, without a day
    peak_load_fraction: float = 1.0  # peak load as a share of the model's, without a day
    existing_violation_tolerance_pu: float = 0.002
    regulators_hold_voltage: bool = True  # see the module docstring
    regulator_dead_band_drift: bool = False  # see the module docstring
    engine: EngineName = "auto"


@dataclass(frozen=True, slots=True)
class BusScreen:
    """The screen of ``requested_kw`` at one bus, before any grant.

    ``capacity_kw`` = min(``voltage_capacity_kw``, ``thermal_capacity_kw``), limited by
    ``binding``. ``v_*`` describe the voltage-critical bus for this injection (the one the
    voltage capacity comes from): its voltage in the worst case before and with
    ``requested_kw``, and its limit (``v_max`` for export, ``v_min`` for import). ``loading_*``
    are the most loaded edge on the path from the source, before and with ``requested_kw``.
    """

    bus_id: str
    direction: Direction
    requested_kw: float
    energised: bool
    capacity_kw: float
    voltage_capacity_kw: float
    thermal_capacity_kw: float
    binding: Constraint
    v_bus_id: str
    v_before_pu: float
    v_after_pu: float
    v_limit_pu: float
    loading_branch_id: str
    loading_before_pct: float
    loading_after_pct: float
    binding_after: float  # the binding constraint with requested_kw: pu (voltage) or % loading


class HostingEngine:
    """Screening state of one network (not thread-safe: callers serialise grants)."""

    def __init__(
        self,
        net: Network,
        topo: Topology,
        rules: HostingRules,
        export_case: LinearCase,
        import_case: LinearCase,
    ) -> None:
        """Use ``build``."""
        self.net = net
        self.topology = topo
        self.rules = rules
        self._cases: dict[Direction, LinearCase] = {"export": export_case, "import": import_case}
        self.monitored = energised_buses(topo)
        self._mon_pos = {b: k for k, b in enumerate(self.monitored)}
        mon = [topo.index(b) for b in self.monitored]
        self._v_max = np.array([net.buses[i].v_max_pu for i in mon])
        self._v_min = np.array([net.buses[i].v_min_pu for i in mon])
        self._columns: dict[str, tuple[np.ndarray, FloatArray]] = {}
        self._paths: dict[str, np.ndarray] = {}
        self._path_dv: dict[str, FloatArray] = {}  # dV/dP at the fed bus of each path edge
        self._kind = branch_kinds(net)
        self._drift_dv: dict[str, FloatArray] = {}  # per bus: drift of each regulated bus
        z = self._zones = regulated_zones(net, topo, self._mon_pos, rules.regulators_hold_voltage)
        keep = 1.0 if rules.regulator_dead_band_drift else 0.0  # 0: no room, no drift
        for c, room in ((export_case, z.band_hi_pu - export_case.v_pu[z.reg_pos]),
                        (import_case, import_case.v_pu[z.reg_pos] - z.band_lo_pu)):  # fmt: skip
            c.room_pu = np.append(keep * np.maximum(room, 0.0), 0.0)
            c.drift_pu = np.zeros(z.n_regs + 1)

    @classmethod
    def build(
        cls,
        net: Network,
        injections: InjectionSeries | None = None,
        rules: HostingRules | None = None,
        *,
        granted_export_kw: Mapping[str, float] | None = None,
        granted_import_kw: Mapping[str, float] | None = None,
    ) -> HostingEngine:
        """Solve both worst cases of ``net`` in AC with what is already granted (export kW
        and import kW per bus, both positive numbers)."""
        rules = rules or HostingRules()
        topo = derive_topology(net)
        lo, hi = case_loads(net, injections, rules.min_load_fraction, rules.peak_load_fraction)
        exp = {b: float(kw) for b, kw in (granted_export_kw or {}).items() if kw}
        imp = {b: float(kw) for b, kw in (granted_import_kw or {}).items() if kw}
        for bus in (*exp, *imp):
            topo.index(bus)  # unknown bus -> UnknownElementError
        slotted = slot_network(net, tuple(sorted({*exp, *imp})))
        tol = rules.existing_violation_tolerance_pu
        mon = np.flatnonzero(topo.energised)

        def case(loads: CaseLoads, granted: dict[str, float], export: bool) -> LinearCase:
            slot_kw = granted if export else {b: -kw for b, kw in granted.items()}
            state = case_state(net, topo, solve_case(slotted, loads, slot_kw, rules.engine))
            # what is broken before any registry grant (the grants may not count as such)
            bare = state
            if granted:
                bare = case_state(net, topo, solve_case(slotted, loads, {}, rules.engine))
            pick = "v_max_pu" if export else "v_min_pu"
            v = getattr(state, pick)[mon].copy()
            v0 = getattr(bare, pick)[mon]
            if export:
                lim = np.array([net.buses[i].v_max_pu for i in mon.tolist()])
                bound = np.where(v0 > lim, v0 + tol, lim)
            else:
                lim = np.array([net.buses[i].v_min_pu for i in mon.tolist()])
                bound = np.where(v0 < lim, v0 - tol, lim)
            s_bare = np.hypot(bare.p_away_kw, bare.q_away_kvar)
            s_lim = np.maximum(state.s_limit_kva, s_bare)
            p_away = state.p_away_kw.copy()
            return LinearCase(loads, state, v, bound, p_away, s_lim.copy(), s_lim, dict(granted))

        return cls(
            net,
            topo,
            rules,
            case(lo, exp, export=True),
            case(hi, imp, export=False),
        )

    # ------------------------------------------------------------------ sensitivities
    def prepare(self, bus_ids: Iterable[str]) -> None:
        """Compute (in one LinDistFlow batch) the sensitivities of every energised bus in
        ``bus_ids`` not yet cached. Raises ``UnknownElementError`` for an unknown bus.

        Each is kept sparse: the monitored buses it moves relative to their regulated bus
        (``hosting_regulators``: the buses of its own feeder below a bank's tap changer) and
        by how much, with the drift it gives each regulated bus."""
        todo = []
        for b in dict.fromkeys(bus_ids):
            if b not in self._columns and self.topology.energised[self.topology.index(b)]:
                todo.append(b)
        if not todo:
            return
        dv = lindistflow(self.net, self.monitored, tuple(todo), self.topology).dv_dp_pu_per_kw
        drift = split(self._zones, dv)  # rows: monitored buses, columns: ``todo``
        for k, b in enumerate(todo):
            idx = np.flatnonzero(dv[:, k] > _EPS)
            self._columns[b] = (idx, dv[idx, k])
            self._drift_dv[b] = np.append(drift[:, k], 0.0)
            path = path_edges(self.topology, self.topology.index(b))
            self._paths[b] = path
            self._path_dv[b] = dv[[self._mon_pos[self.topology.bus_ids[v]] for v in path], k]

    def _column(
        self, bus_id: str, direction: Direction
    ) -> tuple[np.ndarray, FloatArray, FloatArray]:
        """The monitored buses an injection at ``bus_id`` moves, their dV/dP (pu per kW) and
        the regulated buses' drift, divided by the injection bus's worst-case voltage: the
        current of P kW at V pu is P/V, which LinDistFlow's flat-voltage assumption leaves
        out (the AC calibration)."""
        self.prepare((bus_id,))
        base = self._cases[direction].base
        i = self.topology.index(bus_id)
        v = base.v_max_pu[i] if direction == "export" else base.v_min_pu[i]
        idx, dv = self._columns[bus_id]
        return idx, dv / v, self._drift_dv[bus_id] / v

    def _drop(self, bus_id: str) -> FloatArray:
        """Relative voltage drop per kW imported at ``bus_id``, at each path edge's fed bus."""
        out: FloatArray = (
            self._path_dv[bus_id] / self._cases["import"].base.v_min_pu[self.topology.index(bus_id)]
        )
        return out

    # ------------------------------------------------------------------ screening
    def screen(
        self, bus_id: str, requested_kw: float, direction: Direction = "export"
    ) -> BusScreen:
        """Capacity at ``bus_id`` and the impact of ``requested_kw`` there (nothing granted)."""
        i = self.topology.index(bus_id)
        if not self.topology.energised[i]:
            none = Constraint("none", "", "", 0.0)
            return BusScreen(
                bus_id, direction, requested_kw, False, 0.0, 0.0, 0.0, none, bus_id,
                0.0, 0.0, 0.0, "", 0.0, 0.0, 0.0,
            )  # fmt: skip
        c = self._cases[direction]
        (idx, col, u), path = self._column(bus_id, direction), self._paths[bus_id]
        sign = 1.0 if direction == "export" else -1.0
        m, v_cap = voltage_capacity(
            self._zones,
            head=lambda at: sign * (c.v_bound_pu[at] - c.v_pu[at]),
            drift_pu=c.drift_pu,
            room_pu=c.room_pu,
            idx=idx,
            col=col,
            u=u,
        )
        m = self._mon_pos[bus_id] if m < 0 else m
        r_m = int(self._zones.zone_reg[m])
        at = int(np.searchsorted(idx, m))
        dv_m = float(col[at]) if at < len(idx) and idx[at] == m else 0.0
        shift = min(float(c.drift_pu[r_m]), float(c.room_pu[r_m]))
        v_before = float(c.v_pu[m]) + sign * shift
        rise = dv_m * requested_kw + min(float(u[r_m]) * requested_kw, c.room_pu[r_m] - shift)

        p, q = c.p_away_kw[path], c.base.q_away_kvar[path]
        s_lim = c.s_limit_kva[path]
        room = np.sqrt(np.maximum(s_lim**2 - q**2, 0.0))
        if direction == "export":
            t_head = p + room
        else:  # importing lowers the voltage, and a current limit with it: one correction
            drop = self._drop(bus_id)
            shrunk = s_lim - c.s_limit0_kva[path] * drop * np.maximum(room - p, 0.0)
            t_head = np.sqrt(np.maximum(shrunk**2 - q**2, 0.0)) - p
        if len(path):
            e = int(np.argmin(t_head))
            t_cap = max(float(t_head[e]), 0.0)
        else:
            e, t_cap = -1, math.inf

        before = np.hypot(p, q) / np.maximum(s_lim, _EPS) * 100.0
        after_all = np.hypot(p - sign * requested_kw, q) / np.maximum(s_lim, _EPS) * 100.0
        k = int(np.argmax(after_all)) if len(path) else -1
        limit_v = float(self._v_max[m] if direction == "export" else self._v_min[m])
        v_after = v_before + sign * rise
        if math.isinf(v_cap) and math.isinf(t_cap):
            binding = Constraint("none", "", "", 0.0)
            binding_after = v_after
        elif v_cap <= t_cap:
            binding = Constraint("voltage", "bus", self.monitored[m], limit_v)
            binding_after = v_after
        else:
            br = str(self.topology.parent_branch[int(path[e])])
            binding = Constraint("thermal", self._kind.get(br, "branch"), br, float(s_lim[e]))
            binding_after = float(after_all[e])
        return BusScreen(
            bus_id=bus_id,
            direction=direction,
            requested_kw=requested_kw,
            energised=True,
            capacity_kw=min(v_cap, t_cap),
            voltage_capacity_kw=v_cap,
            thermal_capacity_kw=t_cap,
            binding=binding,
            v_bus_id=self.monitored[m],
            v_before_pu=v_before,
            v_after_pu=v_after,
            v_limit_pu=limit_v,
            loading_branch_id=str(self.topology.parent_branch[int(path[k])]) if k >= 0 else "",
            loading_before_pct=float(before.max()) if k >= 0 else 0.0,
            loading_after_pct=float(after_all[k]) if k >= 0 else 0.0,
            binding_after=binding_after,
        )

    def grant(self, bus_id: str, kw: float, direction: Direction = "export") -> None:
        """Reserve ``kw`` (export or import, positive) at ``bus_id`` (negative: release)."""
        if kw == 0.0:
            return
        i = self.topology.index(bus_id)
        c = self._cases[direction]
        left = c.granted_kw.get(bus_id, 0.0) + kw
        if abs(left) < 1e-9:
            c.granted_kw.pop(bus_id, None)
        else:
            c.granted_kw[bus_id] = left
        if not self.topology.energised[i]:
            return
        idx, col, u = self._column(bus_id, direction)
        sign = 1.0 if direction == "export" else -1.0
        c.v_pu[idx] += (sign * kw) * col
        c.drift_pu += kw * u
        path = self._paths[bus_id]
        c.p_away_kw[path] -= sign * kw
        if direction == "import":  # the voltage drop lowers the current limits on the path
            c.s_limit_kva[path] -= c.s_limit0_kva[path] * self._drop(bus_id) * kw

    def release(self, bus_id: str, kw: float, direction: Direction = "export") -> None:
        """Give back ``kw`` granted earlier at ``bus_id``."""
        self.grant(bus_id, -kw, direction)

    def granted_kw(self, direction: Direction = "export") -> dict[str, float]:
        """What is reserved per bus (kW, positive) in ``direction``."""
        return dict(self._cases[direction].granted_kw)

    # ------------------------------------------------------------------ AC check
    def verify(
        self, direction: Direction = "export", extra_kw: Mapping[str, float] | None = None
    ) -> AcCheck:
        """AC power flow of the worst case of ``direction`` with every grant plus ``extra_kw``
        (kW per bus, positive = more export, or more import for ``"import"``)."""
        c = self._cases[direction]
        kw = dict(c.granted_kw)
        for bus, x in (extra_kw or {}).items():
            self.topology.index(bus)
            kw[bus] = kw.get(bus, 0.0) + x
        sign = 1.0 if direction == "export" else -1.0
        return ac_check(
            self.net,
            self.topology,
            c.loads,
            {b: sign * x for b, x in kw.items()},
            self.rules.engine,
        )

    def bus_voltage_pu(self, bus_id: str, direction: Direction = "export") -> float:
        """The linear-state voltage of a monitored bus in the worst case of ``direction``."""
        k = self._mon_pos.get(bus_id)
        if k is None:
            raise UnknownElementError("energised bus", bus_id)
        c = self._cases[direction]
        r = int(self._zones.zone_reg[k])
        shift = min(float(c.drift_pu[r]), float(c.room_pu[r]))
        return float(c.v_pu[k]) + (shift if direction == "export" else -shift)
