"""``/derp`` (DERProgramList, clause 10.10) and each program's controls (``derc``), active
controls (``actderc``), default control (``dderc``) and curves (``dc``)."""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openderms.protocols.ieee2030_5.api.common import (
    call,
    call_cached,
    client,
    rendered,
    services,
    xml,
    xml_body,
)
from openderms.protocols.ieee2030_5.domain import DerControl
from openderms.protocols.ieee2030_5.manager.paging import paged, parse_page
from openderms.protocols.ieee2030_5.mapper import derp as mapper
from openderms.protocols.ieee2030_5.mapper import links


async def program_list(request: Request) -> Response:
    who = await client(request)
    s = services(request)
    programs = await call_cached(s.programs.programs, who)
    items, total = paged(programs, parse_page(request.query_params))
    return xml(
        mapper.program_list(links.DERP, items, total, s.server.poll_rate_of("DERProgramList"))
    )


async def program(request: Request) -> Response:
    who = await client(request)
    found = await call_cached(services(request).programs.program, who, request.path_params["derp"])
    return xml(mapper.program(found))


async def control_list(request: Request) -> Response:
    """The program's DERControlList: a poll, answered from memory (the controls are cached
    per program and the rendered page per controls-and-statuses)."""
    who = await client(request)
    s = services(request)
    program_id = request.path_params["derp"]
    controls = await call_cached(s.programs.controls, who, program_id)
    return _control_page(request, links.controls(program_id), controls, s.programs.now())


async def active_control_list(request: Request) -> Response:
    who = await client(request)
    s = services(request)
    program_id = request.path_params["derp"]
    controls = await call_cached(s.programs.active_controls, who, program_id)
    return _control_page(request, links.active_controls(program_id), controls, s.programs.now())


def _control_page(
    request: Request, href: str, controls: list[DerControl], now: datetime
) -> Response:
    page = parse_page(request.query_params)
    items, total = paged(controls, page)
    # controls never change but for their status: ids and statuses identify the page
    key = (href, page.start, page.limit, total, tuple((c.id, c.current_status(now)) for c in items))
    body = rendered(request).get(key, lambda: mapper.control_list(href, items, total, now))
    return xml_body(body)


async def control(request: Request) -> Response:
    who = await client(request)
    s = services(request)
    args = who, request.path_params["derp"], request.path_params["derc"]
    found = await call(s.programs.control, *args)
    return xml(mapper.control(found, s.programs.now()))


async def default_control(request: Request) -> Response:
    who = await client(request)
    program_id = request.path_params["derp"]
    found = await call(services(request).programs.default_control, who, program_id)
    return xml(mapper.default_control(program_id, found))


async def curve_list(request: Request) -> Response:
    who = await client(request)
    program_id = request.path_params["derp"]
    curves = await call(services(request).programs.curves, who, program_id)
    items, total = paged(curves, parse_page(request.query_params))
    return xml(mapper.curve_list(program_id, items, total))


async def curve(request: Request) -> Response:
    who = await client(request)
    args = who, request.path_params["derp"], request.path_params["dc"]
    found = await call(services(request).programs.curve, *args)
    return xml(mapper.curve(found))


def routes() -> list[Route]:
    one = links.DERP + "/{derp:int}"
    get = ["GET", "HEAD"]
    return [
        Route(links.DERP, program_list, methods=get),
        Route(one, program, methods=get),
        Route(one + "/derc", control_list, methods=get),
        Route(one + "/derc/{derc:int}", control, methods=get),
        Route(one + "/actderc", active_control_list, methods=get),
        Route(one + "/dderc", default_control, methods=get),
        Route(one + "/dc", curve_list, methods=get),
        Route(one + "/dc/{dc:int}", curve, methods=get),
    ]
