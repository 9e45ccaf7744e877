"""Constraint management: violations, two-tier DER dispatch, re-dispatch after switching.

Pure computation (no I/O, no web, SQL or bus code): plain values in, plain values out.

::

    net, model = twin.network, PgmModel.from_network(twin.network)
    fleet = Fleet.from_network(net, priority={"PV_x": Priority.MARKET})
    lg = LinearGrid.build(net)                      # once per switch state (tens of ms)
    base = model.solve()                            # AC power flow, fleet as it is
    detect_violations(base, net, limits)            # thermal, voltage, net load
    quick = dispatch_heuristic(net, fleet, base, lg, limits)        # tier 1, milliseconds
    plan = dispatch_opf(net, fleet, lg, pgm_ac(model), limits, base=base)  # tier 2, AC-checked
    after = redispatch(model, fleet, SwitchingAction.transfer("F1_CB", "TIE_F7_F1"))

Signs (DESIGN.md): DER powers in generator convention (positive = export; negative ``q_kvar``
absorbs vars); ``substation_p_kw`` positive = import from transmission. Every control carries
its reason: the constraint (kind, element, its AC state and limit) and the sensitivity used.
"""

from openderms.control.heuristic import dispatch_heuristic
from openderms.control.linear import LinearGrid, OperatingPoint
from openderms.control.opf import AcSolve, dispatch_opf, pgm_ac
from openderms.control.options import CostWeights, DispatchOptions
from openderms.control.switching import (
    SwitchingAction,
    SwitchingResult,
    apply_switching,
    redispatch,
)
from openderms.control.types import (
    ControlPlan,
    DerControl,
    DerState,
    Fleet,
    NetLoadLimits,
    NetLoadWindow,
    Priority,
    Violation,
    ViolationKind,
)
from openderms.control.violations import (
    CLEARING_HYSTERESIS,
    Margins,
    cleared,
    detect_violations,
    net_load_violations,
)

__all__ = [
    "CLEARING_HYSTERESIS",
    "AcSolve",
    "ControlPlan",
    "CostWeights",
    "DerControl",
    "DerState",
    "DispatchOptions",
    "Fleet",
    "LinearGrid",
    "Margins",
    "NetLoadLimits",
    "NetLoadWindow",
    "OperatingPoint",
    "Priority",
    "SwitchingAction",
    "SwitchingResult",
    "Violation",
    "ViolationKind",
    "apply_switching",
    "cleared",
    "detect_violations",
    "dispatch_heuristic",
    "dispatch_opf",
    "net_load_violations",
    "pgm_ac",
    "redispatch",
]
