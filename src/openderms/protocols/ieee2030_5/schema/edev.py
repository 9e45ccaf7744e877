"""EndDevice (clause 9.4.3) and Registration (clause 9.4.4)."""

from __future__ import annotations

from pydantic_xml import attr, element

from openderms.protocols.ieee2030_5.schema.base import (
    SFDI,
    HexBinary32,
    HexBinary160,
    Link,
    ListLink,
    PollRated,
    SubscribableList,
    SubscribableResource,
    TimeType,
    UInt32,
    XmlBool,
)
from openderms.protocols.ieee2030_5.schema.csipaus import NSMAP


class EndDevice(SubscribableResource, tag="EndDevice", nsmap=NSMAP):
    der_list_link: ListLink | None = element(tag="DERListLink", default=None)
    device_category: HexBinary32 | None = element(tag="deviceCategory", default=None)
    lfdi: HexBinary160 | None = element(tag="lFDI", default=None)
    log_event_list_link: ListLink | None = element(tag="LogEventListLink", default=None)
    sfdi: SFDI = element(tag="sFDI")
    changed_time: TimeType = element(tag="changedTime")
    enabled: XmlBool | None = element(tag="enabled", default=None)
    function_set_assignments_list_link: ListLink | None = element(
        tag="FunctionSetAssignmentsListLink", default=None
    )
    post_rate: UInt32 | None = element(tag="postRate", default=None)
    registration_link: Link | None = element(tag="RegistrationLink", default=None)
    subscription_list_link: ListLink | None = element(tag="SubscriptionListLink", default=None)
    #: CSIP-AUS Annex E: "SHALL contain a Link to an instance of ConnectionPoint"
    connection_point_link: Link | None = element(
        tag="ConnectionPointLink", ns="csipaus", default=None
    )


class EndDeviceList(SubscribableList, tag="EndDeviceList"):
    poll_rate: UInt32 | None = attr(name="pollRate", default=None)
    items: list[EndDevice] = element(tag="EndDevice", default=[])


class Registration(PollRated, tag="Registration"):
    date_time_registered: TimeType = element(tag="dateTimeRegistered")
    pin: UInt32 = element(tag="pIN")
