"""Self-provisioning decisions: where a registration connects, and what the hosting screen
(``openderms.grid.hosting``) makes of it, in numbers and in words.

Which direction is screened:

- a DER that exports (``p_export_kw > 0``: PV, batteries, others) is screened for export at
  minimum load (voltage rise, reverse flow);
- an import-only DER (``p_export_kw == 0`` and ``p_import_kw > 0``: EV chargers, flexible
  loads) is screened for import at peak load (voltage drop, loading);
- a battery's charging is not screened at peak: it is scheduled under the programmes it
  enrols in (constraint management), and what binds a battery is its export.

Decision: approve when the hosting capacity covers the request; approve with a limit of the
capacity rounded down to whole kW when that is at least the minimum useful amount
(``min_useful_kw`` and ``min_useful_share`` of the request); otherwise reject. For an
import-only DER ``requested_kw`` is the import asked for, ``import_limit_kw`` the limit, and
``export_limit_kw`` is 0 (it may not export). Powers: export in generator convention
(positive = into the grid), import as positive kW drawn from the grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from openderms.errors import ValidationIssue
from openderms.grid.hosting import BusScreen, Direction, HostingRules
from openderms.grid.model import Der, Network
from openderms.grid.topology import Topology, derive_topology
from openderms.grid.topology_nodes import GroupingRule, group_ders
from openderms.registry.domain import Location, Registration, Screening

UNBOUNDED_KW = 1e9  # the capacity shown where nothing limits export or import


@dataclass(frozen=True, slots=True)
class ScreeningRules:
    """Policy of the self-provisioning screen."""

    min_useful_kw: float = 1.0  # a limit below this is a refusal
    min_useful_share: float = 0.10  # ... and below this share of the request
    hosting: HostingRules = field(default_factory=HostingRules)
    grouping: GroupingRule = "service_transformer"


class HostingAt(BaseModel):
    """What the portal shows before an application: the bus a location maps to and what it
    still takes (kW; export in generator convention, import as kW drawn)."""

    model_config = ConfigDict(frozen=True)

    bus_id: str
    feeder_id: str | None
    topology_node_id: str
    energised: bool
    export_capacity_kw: float
    export_binding: str  # e.g. "voltage at bus X (limit 1.050 pu)"
    import_capacity_kw: float
    import_binding: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """A decision and what it reserves on the network (kW in ``direction``)."""

    screening: Screening
    direction: Direction
    granted_kw: float


class NetworkIndex:
    """Where registrations connect: service points (load ids), service transformers, buses;
    each bus's feeder and topology node (``group_ders`` with the rules' grouping)."""

    def __init__(self, net: Network, topo: Topology, grouping: GroupingRule) -> None:
        self.topology = topo
        self.load_bus = {ld.id: ld.bus for ld in net.loads}
        self.bus = {b: b for b in topo.bus_ids}
        self.transformer_bus = {
            t.id: t.windings[-1].bus for t in net.transformers if len(t.windings) > 1
        }
        probes = tuple(Der(b, b, (1, 2, 3), "other", 0.0, 0.0, 0.0, 1.0, 1.0) for b in topo.bus_ids)
        probed = _with_ders(net, probes)
        nodes = group_ders(probed, derive_topology(probed), grouping)
        self.node_of = {d: node.id for node in nodes for d in node.der_ids}

    def locate(self, loc: Location, object_id: str) -> tuple[str | None, list[ValidationIssue]]:
        """The bus of ``loc`` (most specific id wins; all given ids must agree), or issues."""
        issues: list[ValidationIssue] = []
        found: list[tuple[str, str, str]] = []  # (field, value, bus)
        for name, value, table, what in (
            ("service_point_id", loc.service_point_id, self.load_bus, "a service point (load)"),
            (
                "service_transformer_id",
                loc.service_transformer_id,
                self.transformer_bus,
                "a transformer",
            ),
            ("bus_id", loc.bus_id, self.bus, "a bus"),
        ):
            if not value:
                continue
            bus = table.get(value)
            if bus is None:
                issues.append(
                    ValidationIssue(
                        "registration",
                        object_id,
                        f"location.{name}",
                        value,
                        f"the id of {what} in the network model",
                    )
                )
            else:
                found.append((name, value, bus))
        if issues or not found:
            return None, issues
        name0, value0, bus0 = found[0]
        for name, value, bus in found[1:]:
            if bus != bus0:
                issues.append(
                    ValidationIssue(
                        "registration",
                        object_id,
                        f"location.{name}",
                        value,
                        f"a location at bus {bus0!r}, where {name0} {value0!r} connects "
                        f"(it is at {bus!r})",
                    )
                )
        return (None, issues) if issues else (bus0, [])

    def feeder(self, bus_id: str) -> str | None:
        return self.topology.feeder[self.topology.index(bus_id)]

    def node(self, bus_id: str) -> str:
        return self.node_of.get(bus_id, f"bus:{bus_id}")


def _with_ders(net: Network, ders: tuple[Der, ...]) -> Network:
    import dataclasses

    return dataclasses.replace(net, ders=ders)


def direction_of(reg: Registration) -> tuple[Direction, float]:
    """The direction screened for ``reg`` and the kW requested in it (see the module doc)."""
    plate = reg.nameplate
    if plate.p_export_kw == 0.0 and plate.p_import_kw > 0.0:
        return "import", plate.p_import_kw
    return "export", plate.p_export_kw


def decide(
    s: BusScreen,
    rules: ScreeningRules,
    *,
    feeder_id: str | None,
    topology_node_id: str,
    now: datetime,
) -> Outcome:
    """The decision on the screen ``s`` of one request, with its reason in words."""
    req, cap, d = s.requested_kw, s.capacity_kw, s.direction
    useful = max(rules.min_useful_kw, rules.min_useful_share * req)
    if not s.energised:
        decision, granted = "reject", 0.0
        reason = f"rejected: bus {s.bus_id} is not energised under the present switch states"
    elif cap >= req:
        decision, granted = "approve", req
        reason = (
            f"approved: {req:g} kW {d} fits the {cap:.1f} kW hosting capacity at bus "
            f"{s.bus_id}; {_effect(s)}"
        )
    elif math.floor(cap + 1e-9) >= useful and math.floor(cap + 1e-9) > 0:
        decision, granted = "approve_with_limit", float(math.floor(cap + 1e-9))
        reason = (
            f"{d} limited to {granted:.0f} kW of {req:g} kW requested: at {req:g} kW "
            f"{_violation(s)}; the hosting capacity at bus {s.bus_id} is {cap:.1f} kW"
        )
    else:
        decision, granted = "reject", 0.0
        reason = (
            f"rejected: at {req:g} kW {_violation(s)}; the hosting capacity at bus "
            f"{s.bus_id} is {cap:.1f} kW, below the minimum useful {d} of {useful:.1f} kW"
        )
    if d == "export":
        export_limit = None if decision == "approve" else granted
        import_limit = None
    else:
        export_limit = 0.0
        import_limit = None if decision == "approve" else granted
    screening = Screening(
        decision=decision,
        reason=reason,
        bus_id=s.bus_id,
        feeder_id=feeder_id,
        topology_node_id=topology_node_id,
        requested_kw=req,
        export_limit_kw=export_limit,
        hosting_capacity_kw=_finite(cap),
        v_worst_before_pu=s.v_before_pu,
        v_worst_after_pu=s.v_after_pu,
        v_limit_pu=s.v_limit_pu,
        binding_constraint=s.binding.describe(),
        loading_before_pct=s.loading_before_pct,
        loading_after_pct=s.loading_after_pct,
        screened_at=now,
        direction=d,
        import_limit_kw=import_limit,
    )
    return Outcome(screening, d, granted)


def _finite(kw: float) -> float:
    """A capacity to store (JSON has no infinity: an unconstrained bus shows ``UNBOUNDED_KW``)."""
    return round(min(kw, UNBOUNDED_KW), 3)


def _case(s: BusScreen) -> str:
    return "at minimum load" if s.direction == "export" else "at peak load"


def _effect(s: BusScreen) -> str:
    verb = "rises" if s.direction == "export" else "falls"
    return (
        f"{_case(s)} bus {s.v_bus_id} {verb} from {s.v_before_pu:.4f} to {s.v_after_pu:.4f} pu "
        f"(limit {s.v_limit_pu:.3f} pu) and {s.loading_branch_id or 'no branch'} is loaded "
        f"{s.loading_after_pct:.0f} %"
    )


def _violation(s: BusScreen) -> str:
    b = s.binding
    if b.kind == "voltage":
        verb = "reach" if s.direction == "export" else "fall to"
        already = ""
        if (s.direction == "export" and s.v_before_pu > b.limit) or (
            s.direction == "import" and s.v_before_pu < b.limit
        ):
            already = f", already {s.v_before_pu:.4f} pu before it"
        return (
            f"bus {b.element_id} would {verb} {s.binding_after:.4f} pu {_case(s)} "
            f"(limit {b.limit:.3f} pu{already})"
        )
    if b.kind == "thermal":
        return (
            f"{b.element_kind} {b.element_id} would be loaded {s.binding_after:.0f} % of its "
            f"{b.limit:.0f} kVA rating {_case(s)}"
        )
    return "nothing limits it"


def hosting_at(index: NetworkIndex, bus_id: str, export: BusScreen, imp: BusScreen) -> HostingAt:
    return HostingAt(
        bus_id=bus_id,
        feeder_id=index.feeder(bus_id),
        topology_node_id=index.node(bus_id),
        energised=export.energised,
        export_capacity_kw=_finite(export.capacity_kw),
        export_binding=export.binding.describe(),
        import_capacity_kw=_finite(imp.capacity_kw),
        import_binding=imp.binding.describe(),
    )
