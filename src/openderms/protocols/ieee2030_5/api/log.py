"""``/edev/{id}/lel`` (LogEventList, LogEvent: clause 9.5)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openderms.protocols.ieee2030_5.api.common import call, client, read_xml, services, xml
from openderms.protocols.ieee2030_5.manager.paging import paged, parse_page
from openderms.protocols.ieee2030_5.mapper import links
from openderms.protocols.ieee2030_5.schema.log import LogEvent, LogEventList


async def log_event_list(request: Request) -> Response:
    who = await client(request)
    s = services(request)
    edev = request.path_params["edev"]
    events = await call(s.log_events.of, who, edev)
    items, total = paged(events, parse_page(request.query_params))
    return xml(
        LogEventList(
            href=links.log_events(edev),
            subscribable=0,
            all=total,
            results=len(items),
            poll_rate=s.server.poll_rate_s,
            items=[e.model_copy(update={"href": links.log_event(edev, i)}) for i, e in items],
        )
    )


async def post_log_event(request: Request) -> Response:
    who = await client(request)
    edev = request.path_params["edev"]
    posted = await read_xml(request, LogEvent)
    new_id = await call(services(request).log_events.post, who, edev, posted)
    return Response(status_code=201, headers={"Location": links.log_event(edev, new_id)})


async def log_event(request: Request) -> Response:
    who = await client(request)
    edev, n = request.path_params["edev"], request.path_params["lel"]
    found = await call(services(request).log_events.get, who, edev, n)
    return xml(found.model_copy(update={"href": links.log_event(edev, n)}))


def routes() -> list[Route]:
    base = links.EDEV + "/{edev:int}/lel"
    return [
        Route(base, log_event_list, methods=["GET", "HEAD"]),
        Route(base, post_log_event, methods=["POST"]),
        Route(base + "/{lel:int}", log_event, methods=["GET", "HEAD"]),
    ]
