"""Time function set (clause 10.1): the server's clock."""

from __future__ import annotations

from pydantic_xml import element

from openderms.protocols.ieee2030_5.schema.base import Int32, PollRated, TimeType, UInt8


class Time(PollRated, tag="Time"):
    current_time: TimeType = element(tag="currentTime")
    dst_end_time: TimeType = element(tag="dstEndTime")
    dst_offset: Int32 = element(tag="dstOffset")
    dst_start_time: TimeType = element(tag="dstStartTime")
    local_time: TimeType | None = element(tag="localTime", default=None)
    quality: UInt8 = element(tag="quality")
    tz_offset: Int32 = element(tag="tzOffset")
