"""Subscription/Notification function set (clause 9.6 of IEEE 2030.5)."""

from __future__ import annotations

from xml.sax.saxutils import escape

from pydantic_xml import attr, element

from openderms.protocols.ieee2030_5.schema.base import (
    NS,
    Resource,
    SepList,
    SepModel,
    UInt8,
    UInt32,
)

XSI = "http://www.w3.org/2001/XMLSchema-instance"
#: Notification.status: 0 default (the resource changed), 1 subscription cancelled, no
#: additional information; 2 cancelled, resource moved; 3 cancelled, resource definition
#: changed; 4 cancelled, resource deleted
CHANGED = 0


class Subscription(Resource, tag="Subscription"):
    subscribed_resource: str = element(tag="subscribedResource")
    encoding: UInt8 = element(tag="encoding")
    level: str = element(tag="level", max_length=16)
    limit: UInt32 = element(tag="limit")
    notification_uri: str = element(tag="notificationURI")


class SubscriptionList(SepList, tag="SubscriptionList"):
    poll_rate: UInt32 | None = attr(name="pollRate", default=None)
    items: list[Subscription] = element(tag="Subscription", default=[])


#: Notification.status: the subscription was cancelled, no additional information
CANCELLED = 1


def cancellation(subscribed_resource: str, subscription_uri: str, status: int = CANCELLED) -> bytes:
    """A Notification telling the subscriber its subscription was cancelled (no Resource)."""
    return "".join(
        (
            f'<Notification xmlns="{NS}">',
            f"<subscribedResource>{escape(subscribed_resource)}</subscribedResource>",
            f"<status>{status}</status>",
            f"<subscriptionURI>{escape(subscription_uri)}</subscriptionURI>",
            "</Notification>",
        )
    ).encode()


def notification(
    subscribed_resource: str, subscription_uri: str, resource: SepModel, status: int = CHANGED
) -> bytes:
    """A Notification carrying ``resource`` (as ``Resource xsi:type=...``, sep.xsd order:
    subscribedResource, Resource, status, subscriptionURI)."""
    rendered = resource.to_xml(skip_empty=True, exclude_none=True)
    assert isinstance(rendered, bytes)
    tag = str(resource.__xml_tag__).encode()
    opening = b"<" + tag + b' xmlns="' + NS.encode() + b'"'
    assert rendered.startswith(opening)
    body = rendered[len(opening) :]
    if body.endswith(b"/>"):
        inner = b'<Resource xsi:type="' + tag + b'"' + body
    else:
        closing = b"</" + tag + b">"
        inner = b'<Resource xsi:type="' + tag + b'"' + body[: -len(closing)] + b"</Resource>"
    return b"".join(
        (
            f'<Notification xmlns="{NS}" xmlns:xsi="{XSI}">'.encode(),
            f"<subscribedResource>{escape(subscribed_resource)}</subscribedResource>".encode(),
            inner,
            f"<status>{status}</status>".encode(),
            f"<subscriptionURI>{escape(subscription_uri)}</subscriptionURI>".encode(),
            b"</Notification>",
        )
    )
