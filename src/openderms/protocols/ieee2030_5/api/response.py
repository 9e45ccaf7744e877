"""``/rsps`` (ResponseSetList, clause 10.4): the server's one ResponseSet, of DERControl
responses (``/rsps/1``), whose ResponseList (``/rsps/1/rsp``) is every control's
``replyTo``; clients POST a DERControlResponse there (201 + Location)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openderms.errors import NotFoundError
from openderms.protocols.ieee2030_5.api.common import (
    call,
    client,
    parse_xml_of,
    read_body,
    services,
    xml,
)
from openderms.protocols.ieee2030_5.manager.paging import paged, parse_page
from openderms.protocols.ieee2030_5.mapper import links
from openderms.protocols.ieee2030_5.mapper import response as mapper
from openderms.protocols.ieee2030_5.schema.response import DERControlResponse
from openderms.protocols.ieee2030_5.schema.response import Response as ResponseXml


async def response_set_list(request: Request) -> Response:
    who = await client(request)
    s = services(request)
    total = len(await call(s.responses.visible, who))
    sets = [mapper.response_set(s.responses.pen, total)]
    items, count = paged(sets, parse_page(request.query_params))
    return xml(mapper.response_set_list(items, count, s.server.poll_rate_s))


async def response_set(request: Request) -> Response:
    who = await client(request)
    s = services(request)
    _check_set(request)
    total = len(await call(s.responses.visible, who))
    return xml(mapper.response_set(s.responses.pen, total))


async def response_list(request: Request) -> Response:
    who = await client(request)
    _check_set(request)
    found = await call(services(request).responses.visible, who)
    items, total = paged(found, parse_page(request.query_params))
    return xml(mapper.response_list(items, total))


async def post_response(request: Request) -> Response:
    who = await client(request)
    _check_set(request)
    kinds: list[type[DERControlResponse | ResponseXml]] = [DERControlResponse, ResponseXml]
    posted = parse_xml_of(await read_body(request), kinds)
    stored = await call(services(request).responses.post, who, posted)
    return Response(status_code=201, headers={"Location": links.response(stored.id)})


async def response(request: Request) -> Response:
    who = await client(request)
    _check_set(request)
    found = await call(services(request).responses.get, who, request.path_params["rsp"])
    return xml(mapper.response(found))


def _check_set(request: Request) -> None:
    set_id = request.path_params["rsps"]
    if set_id != links.DER_RESPONSE_SET_ID:
        raise NotFoundError("ResponseSet", str(set_id))


def routes() -> list[Route]:
    one = links.RSPS + "/{rsps:int}"
    get = ["GET", "HEAD"]
    return [
        Route(links.RSPS, response_set_list, methods=get),
        Route(one, response_set, methods=get),
        Route(one + "/rsp", response_list, methods=get),
        Route(one + "/rsp", post_response, methods=["POST"]),
        Route(one + "/rsp/{rsp:int}", response, methods=get),
    ]
