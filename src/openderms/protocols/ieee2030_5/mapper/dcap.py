"""DeviceCapability and Time documents."""

from __future__ import annotations

from datetime import datetime

from openderms.protocols.ieee2030_5.mapper import links
from openderms.protocols.ieee2030_5.schema.base import Link, ListLink
from openderms.protocols.ieee2030_5.schema.dcap import DeviceCapability
from openderms.protocols.ieee2030_5.schema.time import Time

#: Time.quality (clause 10.1): 4, a clock synchronised to a level-4 time source
TIME_QUALITY = 4


def device_capability(
    poll_rate_s: int, end_devices: int, programs: int, mirror_usage_points: int = 0
) -> DeviceCapability:
    return DeviceCapability(
        href=links.DCAP,
        poll_rate=poll_rate_s,
        der_program_list_link=ListLink(href=links.DERP, all=programs),
        time_link=Link(href=links.TIME),
        end_device_list_link=ListLink(href=links.EDEV, all=end_devices),
        mirror_usage_point_list_link=ListLink(href=links.MUP, all=mirror_usage_points),
    )


def time(now: datetime, poll_rate_s: int) -> Time:
    """The server clock in UTC (no daylight saving: offsets 0)."""
    t = links.epoch_s(now)
    return Time(
        href=links.TIME,
        poll_rate=poll_rate_s,
        current_time=t,
        dst_end_time=0,
        dst_offset=0,
        dst_start_time=0,
        local_time=t,
        quality=TIME_QUALITY,
        tz_offset=0,
    )
