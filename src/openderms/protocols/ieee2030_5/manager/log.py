"""LogEvents (clause 9.5): a client POSTs them to its EndDevice's LogEventList and reads
them back; an aggregator does so for the EndDevices it manages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from openderms.errors import NotFoundError
from openderms.protocols.ieee2030_5.domain import Client
from openderms.protocols.ieee2030_5.manager.edev import EndDeviceManager
from openderms.protocols.ieee2030_5.repository.log import LogEventRepository
from openderms.protocols.ieee2030_5.schema.log import LogEvent

Clock = Callable[[], datetime]
_FIELDS = (
    "details",
    "extended_data",
    "function_set",
    "log_event_code",
    "log_event_id",
    "log_event_pen",
    "profile_id",
)


class LogEventManager:
    def __init__(self, repo: LogEventRepository, end_devices: EndDeviceManager, clock: Clock):
        self._repo = repo
        self._end_devices = end_devices
        self._clock = clock

    def post(self, client: Client, end_device_id: int, posted: LogEvent) -> int:
        """Keep the event (``NotFoundError`` for an EndDevice the client may not see)."""
        self._end_devices.get(client, end_device_id)
        values: dict[str, Any] = {f: getattr(posted, f) for f in _FIELDS}
        values.update(
            end_device_id=end_device_id,
            created_time=datetime.fromtimestamp(posted.created_date_time, UTC),
            received_at=self._clock(),
        )
        return self._repo.add(values)

    def of(self, client: Client, end_device_id: int) -> list[tuple[int, LogEvent]]:
        """The device's events with their ids, newest first."""
        self._end_devices.get(client, end_device_id)
        return [(row["id"], _event(row)) for row in self._repo.of(end_device_id)]

    def get(self, client: Client, end_device_id: int, log_event_id: int) -> LogEvent:
        for found_id, event in self.of(client, end_device_id):
            if found_id == log_event_id:
                return event
        raise NotFoundError("LogEvent", str(log_event_id))


def _event(row: dict[str, Any]) -> LogEvent:
    fields = {f: row[f] for f in _FIELDS}
    created = row["created_time"]
    return LogEvent(created_date_time=int(created.timestamp()), **fields)
