"""EndDevice, EndDeviceList and Registration documents."""

from __future__ import annotations

from collections.abc import Sequence

from openderms.protocols.ieee2030_5.domain import EndDevice
from openderms.protocols.ieee2030_5.mapper import links
from openderms.protocols.ieee2030_5.schema.base import Link, ListLink
from openderms.protocols.ieee2030_5.schema.csipaus import ConnectionPoint
from openderms.protocols.ieee2030_5.schema.edev import EndDevice as EndDeviceXml
from openderms.protocols.ieee2030_5.schema.edev import EndDeviceList, Registration


def end_device(device: EndDevice, post_rate_s: int) -> EndDeviceXml:
    return EndDeviceXml(
        href=links.edev(device.id),
        subscribable=0,
        der_list_link=ListLink(href=links.der_list(device.id)),
        device_category=device.device_category,
        lfdi=device.lfdi.upper(),
        log_event_list_link=ListLink(href=links.log_events(device.id)),
        sfdi=device.sfdi,
        changed_time=links.epoch_s(device.changed_time),
        enabled=device.enabled,
        function_set_assignments_list_link=ListLink(href=links.fsa_list(device.id)),
        post_rate=device.post_rate_s or post_rate_s,
        registration_link=Link(href=links.registration(device.id)),
        subscription_list_link=ListLink(href=links.subscriptions(device.id)),
        connection_point_link=Link(href=links.connection_point(device.id)),
    )


def connection_point(device: EndDevice) -> ConnectionPoint | None:
    """The CSIP-AUS ConnectionPoint of ``device`` (None until its client gave one)."""
    if device.connection_point_id is None:
        return None
    return ConnectionPoint(
        href=links.connection_point(device.id), connection_point_id=device.connection_point_id
    )


def end_device_list(
    devices: Sequence[EndDevice], total: int, poll_rate_s: int, post_rate_s: int
) -> EndDeviceList:
    return EndDeviceList(
        href=links.EDEV,
        subscribable=1,  # clients may subscribe to it
        all=total,
        results=len(devices),
        poll_rate=poll_rate_s,
        items=[end_device(d, post_rate_s) for d in devices],
    )


def registration(device: EndDevice, poll_rate_s: int) -> Registration | None:
    """The EndDevice's Registration (None when it has no PIN yet)."""
    if device.pin is None:
        return None
    registered = device.registered_at or device.changed_time
    return Registration(
        href=links.registration(device.id),
        poll_rate=poll_rate_s,
        date_time_registered=links.epoch_s(registered),
        pin=device.pin,
    )
