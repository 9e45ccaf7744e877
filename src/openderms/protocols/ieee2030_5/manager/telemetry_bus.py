"""Readings a client posted, published on the message bus once durable (optional: without a
bus the server runs the same). One message per post on ``telemetry.<substation>.<der>``;
the DER is the EndDevice's registry DER id (its LFDI when it has none)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from openderms.bus import subjects
from openderms.bus.port import MessageBus
from openderms.errors import OpenDermsError
from openderms.protocols.ieee2030_5.domain import EndDevice, LatestReading

logger = logging.getLogger(__name__)
#: the substation subject token of a DER whose substation is not known
UNASSIGNED = "unassigned"
SubstationOf = Callable[[str], str | None]


class TelemetryPublisher:
    def __init__(self, bus: MessageBus, substation_of: SubstationOf | None = None) -> None:
        self._bus = bus
        self._substation_of = substation_of

    async def publish(self, device: EndDevice, readings: tuple[LatestReading, ...]) -> None:
        """Publish; a bus failure is logged, never returned to the client (the readings
        are already stored)."""
        if not readings:
            return
        der = device.der_id or device.lfdi
        found = self._substation_of(der) if self._substation_of is not None else None
        payload = {
            "der_id": der,
            "end_device_id": device.id,
            "lfdi": device.lfdi,
            "readings": [
                {
                    "mrid": r.mmr_mrid,
                    "description": r.description,
                    "time": r.reading_time.isoformat(),
                    "value": r.value,
                    "uom": r.uom,
                }
                for r in readings
            ],
        }
        try:
            await self._bus.publish(subjects.telemetry(found or UNASSIGNED, der), payload)
        except (OpenDermsError, OSError):
            logger.warning("telemetry of %s not published on the bus", der, exc_info=True)
