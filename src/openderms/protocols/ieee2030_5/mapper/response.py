"""ResponseSet and Response documents."""

from __future__ import annotations

from collections.abc import Sequence

from openderms.protocols.ieee2030_5.domain import ControlResponse
from openderms.protocols.ieee2030_5.mapper import links
from openderms.protocols.ieee2030_5.schema.base import ListLink
from openderms.protocols.ieee2030_5.schema.response import (
    DERControlResponse,
    Response,
    ResponseList,
    ResponseSet,
    ResponseSetList,
)


def response_set_mrid(pen: int) -> str:
    """The mRID of the server's one ResponseSet (fixed, ending with the PEN)."""
    return f"{links.DER_RESPONSE_SET_ID:024X}{pen & 0xFFFFFFFF:08X}"


def response_set(pen: int, responses: int) -> ResponseSet:
    return ResponseSet(
        href=links.response_set(),
        mrid=response_set_mrid(pen),
        description="DER control responses",
        response_list_link=ListLink(href=links.responses(), all=responses),
    )


def response_set_list(
    items: Sequence[ResponseSet], total: int, poll_rate_s: int
) -> ResponseSetList:
    return ResponseSetList(
        href=links.RSPS, all=total, results=len(items), poll_rate=poll_rate_s, items=list(items)
    )


def _fields(item: ControlResponse) -> dict[str, object]:
    return {
        "href": links.response(item.id),
        "created_date_time": links.epoch_s(item.created_time),
        "end_device_lfdi": item.lfdi.upper(),
        "status": item.status,
        "subject": item.control_mrid,
    }


def response(item: ControlResponse) -> DERControlResponse:
    return DERControlResponse.model_validate(_fields(item))


def response_list(items: Sequence[ControlResponse], total: int) -> ResponseList:
    return ResponseList(
        href=links.responses(),
        all=total,
        results=len(items),
        items=[Response.model_validate(_fields(r)) for r in items],
    )
