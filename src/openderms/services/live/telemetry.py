"""2030.5 telemetry in the control loop's words: what a DER posted to its MirrorUsagePoint,
published as the loop's telemetry message (``services.control_loop.sim.telemetry_payload``:
``p_kw``, ``q_kvar``, ``p_available_kw``, ``period_s``, ``at``) on
``telemetry.<substation>.<der>``.

Readings are told apart by their MirrorMeterReading description: ``W`` (active power),
``var`` and ``Wavail`` (what the DER could export uncontrolled, ``sim.fleet.agent.AVAILABLE``);
values in W / var, generator convention (positive = export). A post without ``W`` is not
published (the loop's view of that DER stays as it was).
"""

from __future__ import annotations

import logging

from openderms.bus import subjects
from openderms.bus.port import MessageBus
from openderms.errors import OpenDermsError
from openderms.protocols.ieee2030_5.domain import EndDevice, LatestReading
from openderms.protocols.ieee2030_5.manager.telemetry_bus import TelemetryPublisher
from openderms.services.control_loop.sim import telemetry_payload
from openderms.sim.fleet.agent import AVAILABLE

logger = logging.getLogger(__name__)


class LoopTelemetryPublisher(TelemetryPublisher):
    """The 2030.5 server's bus publisher for one substation's control loop (module
    docstring). ``period_s``: the post rate the DER were given. ``received`` counts the
    messages published."""

    def __init__(self, bus: MessageBus, substation_id: str, period_s: float) -> None:
        super().__init__(bus)
        self.bus, self.substation_id, self.period_s = bus, substation_id, period_s
        self.received = 0

    async def publish(self, device: EndDevice, readings: tuple[LatestReading, ...]) -> None:
        by_name = {r.description: r for r in readings}
        w = by_name.get("W")
        if w is None or device.der_id is None:
            return
        var = by_name.get("var")
        avail = by_name.get(AVAILABLE)
        p_kw = w.value / 1000.0
        payload = telemetry_payload(
            w.reading_time,
            p_kw,
            var.value / 1000.0 if var is not None else 0.0,
            avail.value / 1000.0 if avail is not None else p_kw,
            self.period_s,
        )
        try:
            await self.bus.publish(subjects.telemetry(self.substation_id, device.der_id), payload)
        except (OpenDermsError, OSError):
            logger.warning("telemetry of %s not published", device.der_id, exc_info=True)
            return
        self.received += 1
