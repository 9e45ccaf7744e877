"""The plant: the substation as it really runs, for a live run without a field.

It takes what each simulated DER really exports (``DerAgent.output``: its PV or schedule
under the control it applied, with its own delay, partial delivery or ignoring), solves the
true AC power flow (power-grid-model) under the switch states of the field, and publishes
what a SCADA system would: ``measurements.<substation>`` (substation P/Q, feeder-head P,
the loads) and ``switch_states.<substation>``. A switch state published on the bus (by the
operator's REST call, as SCADA reports it) operates the switch in the field. A planned
switching order (``switching_orders.<substation>``) is carried out by the field crew: the
switch operates at the order's start and returns at its end (``run_orders``), and SCADA
reports each operation on ``switch_states``.

Powers in kW; DER in generator convention (positive = export), loads in load convention,
``substation_p_kw`` positive = import.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from openderms.bus import Message, MessageBus, Subscription
from openderms.bus import subjects as sub
from openderms.control import NetLoadLimits, Violation, detect_violations
from openderms.control.types import FloatArray
from openderms.errors import ValidationError
from openderms.grid.engines.pgm_model import PgmModel
from openderms.grid.model import Network
from openderms.grid.powerflow import PowerFlowResult
from openderms.services.control_loop.orders import SwitchingSchedule, order_from_payload
from openderms.services.control_loop.sim import switch_payload
from openderms.sim.fleet.agent import DerAgent


@dataclass(frozen=True, slots=True)
class PlantState:
    """One true AC power flow: its violations and the figures an operator looks at."""

    at: datetime
    result: PowerFlowResult
    violations: tuple[Violation, ...]
    v_max_pu: float
    v_min_pu: float
    loading_max_pct: float
    substation_p_kw: float
    der_p_kw: float  # summed DER output (generator convention)


class Plant:
    """The field of ``net`` with ``agents`` (DER id -> agent) for its DER (module docstring);
    DER without an agent keep the output ``net`` gives them."""

    def __init__(
        self,
        net: Network,
        agents: Mapping[str, DerAgent],
        bus: MessageBus,
        substation_id: str,
        limits: NetLoadLimits | None = None,
    ) -> None:
        self.model = PgmModel.from_network(net)
        self.agents = dict(agents)
        self.bus, self.substation_id, self.limits = bus, substation_id, limits
        self.load_p_kw = np.array([ld.p_kw for ld in net.loads], dtype=np.float64)
        self.load_q_kvar = np.array([ld.q_kvar for ld in net.loads], dtype=np.float64)
        self._fixed_p = np.array([d.p_kw for d in net.ders], dtype=np.float64)
        self._fixed_q = np.array([d.q_kvar for d in net.ders], dtype=np.float64)
        self.switch_operations: list[tuple[datetime, str, bool]] = []
        self.orders = SwitchingSchedule()
        self._subs: list[Subscription] = []

    @property
    def net(self) -> Network:
        return self.model.net

    @property
    def switches(self) -> dict[str, bool]:
        """Every switch's state in the field (``{switch_id: closed}``)."""
        return {s.id: s.closed for s in self.net.switches}

    def operate(self, states: Mapping[str, bool], at: datetime | None = None) -> bool:
        """Operate switches in the field; True when one changed."""
        now = self.switches
        changed = {k: v for k, v in states.items() if k in now and now[k] != v}
        if not changed:
            return False
        self.model = self.model.with_switch_states(changed)
        when = at or datetime.now(UTC)
        self.switch_operations.extend((when, k, v) for k, v in changed.items())
        return True

    def outputs(self) -> tuple[FloatArray, FloatArray]:
        """What every DER exports now (kW, kvar), in ``net.ders`` order."""
        p, q = self._fixed_p.copy(), self._fixed_q.copy()
        for i, d in enumerate(self.net.ders):
            agent = self.agents.get(d.id)
            if agent is not None:
                w, var = agent.output()
                p[i], q[i] = w / 1000.0, var / 1000.0
        return p, q

    def solve(self, at: datetime | None = None) -> PlantState:
        """The true AC power flow now and its violations."""
        when = at or datetime.now(UTC)
        p, q = self.outputs()
        result = self.model.solve(
            load_p_kw=self.load_p_kw,
            load_q_kvar=self.load_q_kvar,
            der_p_kw=p,
            der_q_kvar=q,
            error_tolerance=1e-6,
        )
        live = result.v_pu[result.v_pu > 0]
        return PlantState(
            at=when,
            result=result,
            violations=detect_violations(result, self.net, self.limits, when=when),
            v_max_pu=float(live.max()) if live.size else 0.0,
            v_min_pu=float(live.min()) if live.size else 0.0,
            loading_max_pct=float(result.loading_pct.max()) if result.loading_pct.size else 0.0,
            substation_p_kw=float(result.substation_p_kw),
            der_p_kw=float(p.sum()),
        )

    # -- SCADA on the bus -----------------------------------------------------------------
    async def start(self) -> None:
        """Follow switch states and switching orders on the bus; report the field's states."""
        s = self.substation_id
        self._subs = [
            await self.bus.subscribe(sub.switch_states(s), self._on_switches),
            await self.bus.subscribe(sub.switching_orders(s), self._on_order),
        ]
        await self.publish_switch_states()

    async def stop(self) -> None:
        for s in self._subs:
            with contextlib.suppress(Exception):
                await s.stop()
        self._subs = []

    async def run_orders(self, now: datetime) -> list[str]:
        """Operate the switches the planned orders say now, and report them as SCADA does;
        the ids of the switches operated."""
        changes, _ = self.orders.due(now, 0.0, self.switches)
        if not changes or not self.operate(changes, now):
            return []
        await self.bus.publish(sub.switch_states(self.substation_id), switch_payload(changes))
        return sorted(changes)

    async def publish_switch_states(self) -> None:
        await self.bus.publish(sub.switch_states(self.substation_id), switch_payload(self.switches))

    async def publish_measurements(self, state: PlantState) -> None:
        await self.bus.publish(sub.measurements(self.substation_id), self.measurements(state))

    def measurements(self, state: PlantState) -> dict[str, Any]:
        """The SCADA message: substation P/Q, each feeder head's P, every load's P/Q."""
        r = state.result
        index = {b: i for i, b in enumerate(r.branch_ids)}
        heads = {
            f.id: float(r.p_from_kw[index[f.head]]) for f in self.net.feeders if f.head in index
        }
        loads = {
            ld.id: {"p_kw": float(p), "q_kvar": float(q)}
            for ld, p, q in zip(self.net.loads, self.load_p_kw, self.load_q_kvar, strict=True)
        }
        return {
            "at": state.at.isoformat(),
            "substation": {"p_kw": state.substation_p_kw, "q_kvar": float(r.substation_q_kvar)},
            "feeder_heads_p_kw": heads,
            "loads": loads,
        }

    async def _on_order(self, msg: Message) -> None:
        try:
            order = order_from_payload(msg.json(), self.switches)
        except ValidationError:
            return  # the control loop audits a refused order; the field ignores it
        self.orders.put(order)

    async def _on_switches(self, msg: Message) -> None:
        raw = msg.json().get("states", {})
        states = {
            str(k): v if isinstance(v, bool) else str(v).lower() == "closed" for k, v in raw.items()
        }
        self.operate(states)
