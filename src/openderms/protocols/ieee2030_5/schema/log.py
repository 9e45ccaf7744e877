"""LogEvent function set (clause 9.5 of IEEE 2030.5): events a client logs on the server."""

from __future__ import annotations

from pydantic_xml import attr, element

from openderms.protocols.ieee2030_5.schema.base import (
    Resource,
    String32,
    SubscribableList,
    TimeType,
    UInt8,
    UInt16,
    UInt32,
)


class LogEvent(Resource, tag="LogEvent"):
    created_date_time: TimeType = element(tag="createdDateTime")
    details: String32 | None = element(tag="details", default=None)
    extended_data: UInt32 | None = element(tag="extendedData", default=None)
    function_set: UInt8 = element(tag="functionSet")
    log_event_code: UInt8 = element(tag="logEventCode")
    log_event_id: UInt16 = element(tag="logEventID")
    log_event_pen: UInt32 = element(tag="logEventPEN")
    profile_id: UInt8 = element(tag="profileID")


class LogEventList(SubscribableList, tag="LogEventList"):
    poll_rate: UInt32 | None = attr(name="pollRate", default=None)
    items: list[LogEvent] = element(tag="LogEvent", default=[])
