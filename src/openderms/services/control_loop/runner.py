"""The asyncio runner: feeds the loop from the bus and publishes what it finds.

Subscribes to ``telemetry.<substation>.*``, ``measurements.<substation>``,
``switch_states.<substation>`` and ``switching_orders.<substation>`` (one planned order per
message, ``orders.order_from_payload``; a bad one is logged and written to the audit log as
``order_rejected``, not retried); every ``period_s`` runs ``ControlLoop.step`` and publishes
the violations (``violations.<substation>``, when there are any or they just went away) and
the chosen plan (``control_plans.<substation>``). ``stop`` ends the subscriptions.
``BusResponses`` is a ``ResponseSource`` reading DER reports from ``responses.<substation>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime

from openderms.bus import Message, MessageBus, Subscription
from openderms.bus import subjects as sub
from openderms.errors import ValidationError
from openderms.services.control_loop.loop import ControlLoop, StepReport
from openderms.services.control_loop.orders import order_from_payload
from openderms.services.control_loop.plans import plan_payload, violations_payload
from openderms.services.control_loop.ports import Clock, ResponseEvent, ResponseStatus

logger = logging.getLogger(__name__)


class BusResponses:
    """A ``ResponseSource`` fed from ``responses.<substation>``: each message is one DER's
    report ``{"ref": <DeliveryHandle.ref>, "der_id": .., "status": "received" | "started" |
    "completed" | "not_delivered", "at": <ISO 8601 UTC>}`` (a protocol adapter publishes
    them, e.g. from 2030.5 Response sets). ``start`` subscribes; ``drain`` hands them over."""

    def __init__(self, bus: MessageBus, substation_id: str) -> None:
        self.bus, self.substation_id = bus, substation_id
        self._events: list[ResponseEvent] = []
        self._sub: Subscription | None = None

    async def start(self) -> None:
        self._sub = await self.bus.subscribe(
            sub.responses(self.substation_id), self._on, durable=f"responses-{self.substation_id}"
        )

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.stop()
            self._sub = None

    def drain(self) -> Sequence[ResponseEvent]:
        out, self._events = self._events, []
        return out

    async def _on(self, msg: Message) -> None:
        body = msg.json()
        self._events.append(
            ResponseEvent(
                ref=str(body["ref"]),
                der_id=str(body["der_id"]),
                status=ResponseStatus(body["status"]),
                at=datetime.fromisoformat(str(body["at"])),
            )
        )


def response_payload(event: ResponseEvent) -> dict[str, str]:
    """The ``responses.<substation>`` body of one report (see ``BusResponses``)."""
    return {
        "ref": event.ref,
        "der_id": event.der_id,
        "status": event.status.value,
        "at": event.at.isoformat(),
    }


class ControlLoopRunner:
    """Drives one substation's ``ControlLoop`` from ``bus`` on ``clock``."""

    def __init__(
        self, bus: MessageBus, loop: ControlLoop, clock: Clock, *, period_s: float = 5.0
    ) -> None:
        self.bus, self.loop, self.clock, self.period_s = bus, loop, clock, period_s
        self._subs: list[Subscription] = []
        self._had_violations = False

    @property
    def substation_id(self) -> str:
        return self.loop.config.substation_id

    async def start(self) -> None:
        s = self.substation_id
        durable = f"control-loop-{s}"
        self._subs = [
            await self.bus.subscribe(
                sub.family_pattern(sub.TELEMETRY, s), self._telemetry, durable=f"{durable}-tm"
            ),
            await self.bus.subscribe(
                sub.measurements(s), self._measurements, durable=f"{durable}-ms"
            ),
            await self.bus.subscribe(sub.switch_states(s), self._switches, durable=f"{durable}-sw"),
            await self.bus.subscribe(
                sub.switching_orders(s), self._orders, durable=f"{durable}-so"
            ),
        ]

    async def stop(self) -> None:
        for s in self._subs:
            await s.stop()
        self._subs = []

    async def run_once(self) -> StepReport:
        """One step at the clock's time, then its messages on the bus."""
        report = self.loop.step(self.clock.now())
        s = self.substation_id
        if report.violations or self._had_violations:
            await self.bus.publish(
                sub.violations(s), violations_payload(report.at, report.violations)
            )
        self._had_violations = bool(report.violations)
        if report.plan is not None:
            await self.bus.publish(
                sub.control_plans(s), plan_payload(report.at, report.plan, report.queued)
            )
        return report

    async def run(self, stop: asyncio.Event) -> None:
        """Step every ``period_s`` until ``stop`` is set."""
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:  # one bad step must not end real-time control
                logger.exception("control loop step failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.period_s)

    async def _telemetry(self, msg: Message) -> None:
        der_id = sub.parse(msg.subject).der_id
        if der_id is not None:
            self.loop.ingest_telemetry(der_id, msg.json())

    async def _measurements(self, msg: Message) -> None:
        self.loop.ingest_measurements(msg.json())

    async def _switches(self, msg: Message) -> None:
        self.loop.ingest_switch_states(msg.json(), self.clock.now())

    async def _orders(self, msg: Message) -> None:
        """A bad order is refused (logged, audited) and acknowledged: a retry cannot fix it."""
        now = self.clock.now()
        switch_ids = {sw.id for sw in self.loop.state.net.switches}
        try:
            o = order_from_payload(msg.json(), switch_ids)
        except ValidationError as e:
            logger.warning("switching order refused: %s", e)
            self.loop.audit.write(now, "order_rejected", str(e))
            return
        self.loop.ingest_switching_order(o.order_id, o.switch_id, o.closed, o.start, o.end, now=now)
