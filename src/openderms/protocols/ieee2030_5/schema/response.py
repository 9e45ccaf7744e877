"""Response function set (clause 10.4 of IEEE 2030.5): ResponseSet, Response and
DERControlResponse, and the response status codes of table 27."""

from __future__ import annotations

from pydantic_xml import attr, element

from openderms.protocols.ieee2030_5.schema.base import (
    MRID,
    HexBinary160,
    IdentifiedObject,
    ListLink,
    Resource,
    SepList,
    TimeType,
    UInt8,
    UInt32,
)

#: table 27, response types of the DER and DRLC function sets (all other values reserved)
EVENT_RECEIVED = 1
EVENT_STARTED = 2
EVENT_COMPLETED = 3
OPTED_OUT = 4
OPTED_IN = 5
EVENT_CANCELLED = 6
EVENT_SUPERSEDED = 7
PARTIAL_OPT_OUT = 8
PARTIAL_OPT_IN = 9
COMPLETED_NO_PARTICIPATION = 10
USER_ACKNOWLEDGED = 11
CANNOT_BE_DISPLAYED = 12
ABORTED_SERVER_EVENT = 13
ABORTED_PROGRAM_EVENT = 14
REJECTED_NOT_APPLICABLE = 252
REJECTED_INVALID_EVENT = 253
REJECTED_RECEIVED_LATE = 254
RESPONSE_STATUSES = frozenset({*range(1, 15), 252, 253, 254})


class ResponseBase(Resource):
    created_date_time: TimeType | None = element(tag="createdDateTime", default=None)
    end_device_lfdi: HexBinary160 = element(tag="endDeviceLFDI")
    status: UInt8 | None = element(tag="status", default=None)
    subject: MRID = element(tag="subject")


class Response(ResponseBase, tag="Response"):
    """A client's response to an event (the generic element of a ResponseList)."""


class DERControlResponse(ResponseBase, tag="DERControlResponse"):
    """A client's response to a DERControl."""


class ResponseList(SepList, tag="ResponseList"):
    items: list[Response] = element(tag="Response", default=[])


class ResponseSet(IdentifiedObject, tag="ResponseSet"):
    response_list_link: ListLink | None = element(tag="ResponseListLink", default=None)


class ResponseSetList(SepList, tag="ResponseSetList"):
    poll_rate: UInt32 | None = attr(name="pollRate", default=None)
    items: list[ResponseSet] = element(tag="ResponseSet", default=[])
