"""A simulated DER fleet that follows the in-memory link: what each DER exports, its
telemetry, and the network as it really is (for an independent AC check).

Each DER has an available power (PV: what the sun gives; storage: its schedule) from the
network it was built from, and follows, in order: the control in force at it
(``InMemoryDelivery.in_force``); while out of contact, its default (the fallback cap set with
``set_default``); else it runs uncontrolled. Unreachable DER send no telemetry. Generator
convention throughout (positive = export; charging storage negative).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np

from openderms.control import Violation, detect_violations
from openderms.control.types import FloatArray
from openderms.grid.engines.pgm_model import PgmModel
from openderms.grid.model import Network
from openderms.services.control_loop.loop import ControlLoop, StepReport
from openderms.services.control_loop.memory import InMemoryDelivery
from openderms.services.control_loop.ports import FakeClock


class SimulatedFleet:
    """The fleet of ``net.ders`` behind ``link`` (see the module docstring)."""

    def __init__(self, net: Network, link: InMemoryDelivery, *, period_s: float = 30.0) -> None:
        self.net = net
        self.link = link
        self.period_s = period_s
        self.available_kw = np.array([d.p_kw for d in net.ders], dtype=np.float64)

    def set_available(self, available_kw: FloatArray) -> None:
        """New available powers (kW, generator convention), in ``net.ders`` order."""
        self.available_kw = np.asarray(available_kw, dtype=np.float64).copy()

    def set_loads(self, load_p_kw: FloatArray, load_q_kvar: FloatArray) -> None:
        """New load powers (load convention: positive = consumed), in ``net.loads`` order."""
        loads = tuple(
            dataclasses.replace(ld, p_kw=p, q_kvar=q)
            for ld, p, q in zip(
                self.net.loads, load_p_kw.tolist(), load_q_kvar.tolist(), strict=True
            )
        )
        self.net = dataclasses.replace(self.net, loads=loads)

    def set_switches(self, states: Mapping[str, bool]) -> None:
        """Operate switches in the field (``{switch_id: closed}``)."""
        switches = tuple(
            dataclasses.replace(sw, closed=states.get(sw.id, sw.closed)) for sw in self.net.switches
        )
        self.net = dataclasses.replace(self.net, switches=switches)

    def outputs(self, now: datetime) -> tuple[FloatArray, FloatArray]:
        """What every DER exports now: ``(p_kw, q_kvar)`` in ``net.ders`` order."""
        p = self.available_kw.copy()
        q = np.zeros_like(p)
        for i, d in enumerate(self.net.ders):
            c = self.link.in_force(d.id, now)
            if c is not None:
                if c.p_kw is not None:
                    p[i] = min(max(c.p_kw, d.p_min_kw), d.p_max_kw)
                if c.p_max_kw is not None:
                    p[i] = min(p[i], c.p_max_kw)
                if c.q_kvar is not None:
                    room = math.sqrt(max(d.s_kva**2 - p[i] ** 2, 0.0))
                    q[i] = min(max(c.q_kvar, -room), room)
            elif self.link.is_offline(d.id) and d.id in self.link.defaults:
                p[i] = min(p[i], self.link.defaults[d.id].p_max_kw)
        return p, q

    def network(self, now: datetime) -> Network:
        """The network with every DER at its output now (for an independent AC check)."""
        p, q = self.outputs(now)
        ders = tuple(
            dataclasses.replace(d, p_kw=pi, q_kvar=qi)
            for d, pi, qi in zip(self.net.ders, p.tolist(), q.tolist(), strict=True)
        )
        return dataclasses.replace(self.net, ders=ders)

    def telemetry(self, now: datetime) -> dict[str, dict[str, Any]]:
        """One telemetry payload per reachable DER (the ``telemetry.<sub>.<der>`` body)."""
        p, q = self.outputs(now)
        out: dict[str, dict[str, Any]] = {}
        for i, d in enumerate(self.net.ders):
            if self.link.is_offline(d.id):
                continue
            out[d.id] = telemetry_payload(
                now, float(p[i]), float(q[i]), float(self.available_kw[i]), self.period_s
            )
        return out


def telemetry_payload(
    at: datetime, p_kw: float, q_kvar: float, p_available_kw: float, period_s: float
) -> dict[str, Any]:
    """A DER telemetry message: measured ``p_kw``/``q_kvar`` and the ``p_available_kw`` it
    could export uncontrolled (generator convention), its reporting period in seconds."""
    return {
        "at": at.isoformat(),
        "p_kw": p_kw,
        "q_kvar": q_kvar,
        "p_available_kw": p_available_kw,
        "period_s": period_s,
    }


def switch_payload(states: Mapping[str, bool]) -> dict[str, Any]:
    """A switch-state message (``switch_states.<sub>``): ``{switch_id: closed}``."""
    return {"states": {k: ("closed" if v else "open") for k, v in states.items()}}


class Harness:
    """A loop, its in-memory link and simulated fleet on one fake clock: ``run(n, dt_s)``
    sends every reachable DER's telemetry to the loop and steps it, ``n`` times."""

    def __init__(self, loop: ControlLoop, fleet: SimulatedFleet, clock: FakeClock) -> None:
        self.loop, self.fleet, self.clock = loop, fleet, clock
        self.reports: list[StepReport] = []

    def run(self, n: int, dt_s: float = 30.0) -> StepReport:
        for _ in range(n):
            now = self.clock.now()
            for der_id, payload in self.fleet.telemetry(now).items():
                self.loop.ingest_telemetry(der_id, payload)
            self.reports.append(self.loop.step(now))
            self.clock.advance(dt_s)
        return self.reports[-1]

    def ac_violations(self) -> tuple[Violation, ...]:
        """An independent AC power flow of the network as the fleet really runs now."""
        net = self.fleet.network(self.clock.now())
        result = PgmModel.from_network(net).solve(error_tolerance=1e-6)
        return detect_violations(result, net, self.loop.config.limits, when=self.clock.now())
