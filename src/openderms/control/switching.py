"""Switching: a planned or unplanned change of switch states, the new topology, re-dispatch.

``redispatch(model, fleet, action)`` applies the switch states to the converted
power-grid-model network (no reconversion), derives the new topology and its LinDistFlow model,
marks DER left without supply offline (they trip on loss of voltage), runs an AC power flow
with the fleet as it is, and dispatches both tiers: the heuristic (milliseconds, for the
first seconds) and the OPF (checked with AC power flows). A planned order's start and end
become the controls' start and expiry.

Feeder transfers follow break-before-make: ``SwitchingAction.transfer(open, close)`` opens a
feeder-head breaker or sectionaliser, then closes a normally-open tie, so the section beyond
the opened switch is carried by the neighbouring feeder.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from datetime import datetime

from openderms.control.heuristic import dispatch_heuristic
from openderms.control.linear import LinearGrid
from openderms.control.opf import dispatch_opf, pgm_ac
from openderms.control.options import DispatchOptions
from openderms.control.types import ControlPlan, Fleet, NetLoadLimits
from openderms.grid.engines.pgm_model import PgmModel
from openderms.grid.model import Network, with_switch_state
from openderms.grid.powerflow import PowerFlowResult
from openderms.grid.topology import Topology, derive_topology


@dataclass(frozen=True, slots=True)
class SwitchingAction:
    """Switch states to set, in order (``(switch_id, closed)``); a planned order has a
    window (UTC-aware ``start``/``end``), an unplanned one (from SCADA) has none."""

    steps: tuple[tuple[str, bool], ...]
    planned: bool = False
    start: datetime | None = None
    end: datetime | None = None
    description: str = ""

    @classmethod
    def transfer(
        cls,
        open_switch: str,
        close_tie: str,
        *,
        planned: bool = False,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> SwitchingAction:
        """Open ``open_switch`` then close ``close_tie``: the section beyond the opened switch
        is carried by the feeder across the tie."""
        return cls(
            steps=((open_switch, False), (close_tie, True)),
            planned=planned,
            start=start,
            end=end,
            description=f"open {open_switch}, close {close_tie}",
        )

    def states(self) -> dict[str, bool]:
        """Final state of every switch the action touches."""
        return dict(self.steps)


def apply_switching(net: Network, action: SwitchingAction) -> tuple[Network, Topology]:
    """``net`` with the action's switch states, and its new topology."""
    for switch_id, closed in action.steps:
        net = with_switch_state(net, switch_id, closed)
    return net, derive_topology(net)


@dataclass(frozen=True, slots=True, eq=False)
class SwitchingResult:
    """The switched network, its models, the state just after switching and both plans."""

    action: SwitchingAction
    model: PgmModel
    linear: LinearGrid
    fleet: Fleet  # DER without supply marked offline
    before: PowerFlowResult  # AC power flow right after switching, fleet as it was
    heuristic: ControlPlan
    plan: ControlPlan
    de_energised_ders: tuple[str, ...]
    linearise_s: float  # topology + LinDistFlow model of the new switch states

    @property
    def network(self) -> Network:
        return self.model.net

    @property
    def topology(self) -> Topology:
        return self.linear.topology


def redispatch(
    model: PgmModel | Network,
    fleet: Fleet,
    action: SwitchingAction,
    limits: NetLoadLimits | None = None,
    *,
    when: datetime | None = None,
    options: DispatchOptions | None = None,
) -> SwitchingResult:
    """Switch, re-derive the topology and dispatch (see the module docstring).

    ``model`` is the network before switching, converted (fastest: no reconversion) or not;
    ``fleet`` its DER in ``net.ders`` order (generator convention: positive = export). Raises
    ``NotConvergedError`` when the switched network has no AC solution with the fleet as it is.
    """
    opt = options or DispatchOptions()
    if isinstance(model, Network):
        model = PgmModel.from_network(model)
    switched = model.with_switch_states(action.states())
    net = switched.net
    t = time.perf_counter()
    lg = LinearGrid.build(net)
    linearise_s = time.perf_counter() - t
    dead = lg.der_col < 0
    fleet = dataclasses.replace(fleet, online=fleet.online & ~dead)
    ac = pgm_ac(switched, regulate=opt.regulate)
    before = ac(fleet.p_present_kw, fleet.q_present_kvar)
    start, end = (action.start, action.end) if action.planned else (None, None)
    quick = dispatch_heuristic(
        net, fleet, before, lg, limits, when=when, options=opt, start=start, expiry=end
    )
    plan = dispatch_opf(
        net, fleet, lg, ac, limits, when=when, options=opt, base=before, start=start, expiry=end
    )
    return SwitchingResult(
        action=action,
        model=switched,
        linear=lg,
        fleet=fleet,
        before=before,
        heuristic=quick,
        plan=plan,
        de_energised_ders=tuple(i for i, d in zip(fleet.ids, dead.tolist(), strict=True) if d),
        linearise_s=linearise_s,
    )
