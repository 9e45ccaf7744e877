"""``/mup`` (MirrorUsagePointList, MirrorUsagePoint: clause 10.7) and the
MirrorMeterReadings clients post to a usage point. Telemetry is answered only once durable
(``manager.telemetry``), then published on the bus when the server has one."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openderms.protocols.ieee2030_5.api.common import (
    call,
    call_cached,
    client,
    parse_xml_of,
    read_body,
    read_xml,
    services,
    xml,
)
from openderms.protocols.ieee2030_5.manager.metering import Posted
from openderms.protocols.ieee2030_5.manager.paging import paged, parse_page
from openderms.protocols.ieee2030_5.mapper import links
from openderms.protocols.ieee2030_5.mapper import metering as mapper
from openderms.protocols.ieee2030_5.schema.metering import (
    MirrorMeterReading,
    MirrorUsagePoint,
    PostedMirrorMeterReadingList,
)
from openderms.protocols.ieee2030_5.serving.readings_xml import parse_reading_list


async def mup_list(request: Request) -> Response:
    who = await client(request)
    s = services(request)
    mups = await call(s.metering.mups, who)
    items, total = paged(mups, parse_page(request.query_params))
    return xml(mapper.mup_list(items, total, s.server.poll_rate_of("MirrorUsagePointList")))


async def create_mup(request: Request) -> Response:
    """201 + Location for a new usage point; 204 (and its Location) when one with the same
    mRID exists (it is updated)."""
    who = await client(request)
    posted = await read_xml(request, MirrorUsagePoint)
    done = await call(services(request).metering.post_mup, who, posted)
    await _durable(request, done)
    location = {"Location": links.mup(done.mup.id)}
    return Response(status_code=201 if done.created else 204, headers=location)


async def mup(request: Request) -> Response:
    who = await client(request)
    found, device, readings = await call(
        services(request).metering.mup, who, request.path_params["mup"]
    )
    return xml(mapper.mup(found, device.lfdi, readings))


async def post_readings(request: Request) -> Response:
    """A MirrorMeterReading or a MirrorMeterReadingList: 201 + Location when it created a
    MirrorMeterReading, else 204. The usual telemetry body (readings of known
    MirrorMeterReadings) is read by a fast parser and taken on the event loop, with no
    database read; the rest by the full parser and a worker thread."""
    who = await client(request)
    body = await read_body(request)
    doc = parse_reading_list(body) or parse_xml_of(body, _POSTED)
    posted = doc.items if isinstance(doc, PostedMirrorMeterReadingList) else [doc]
    mup_id = request.path_params["mup"]
    done = await call_cached(services(request).metering.post_readings, who, mup_id, posted)
    await _durable(request, done)
    if done.new_mmr is not None:
        location = {"Location": links.mmr(mup_id, done.new_mmr.id)}
        return Response(status_code=201, headers=location)
    return Response(status_code=204)


_POSTED: list[type[PostedMirrorMeterReadingList | MirrorMeterReading]] = [
    PostedMirrorMeterReadingList,
    MirrorMeterReading,
]


async def meter_reading(request: Request) -> Response:
    who = await client(request)
    args = who, request.path_params["mup"], request.path_params["mmr"]
    found = await call(services(request).metering.mmr, *args)
    view = mapper.mmr(found).model_copy(update={"href": links.mmr(found.mup_id, found.id)})
    return xml(view)


async def _durable(request: Request, done: Posted) -> None:
    """Wait until the readings are committed, then publish them (when there is a bus)."""
    await asyncio.wrap_future(done.durable)
    publisher = services(request).telemetry_bus
    if publisher is not None:
        await publisher.publish(done.end_device, done.readings)


def routes() -> list[Route]:
    one = links.MUP + "/{mup:int}"
    return [
        Route(links.MUP, mup_list, methods=["GET", "HEAD"]),
        Route(links.MUP, create_mup, methods=["POST"]),
        Route(one, mup, methods=["GET", "HEAD"]),
        Route(one, post_readings, methods=["POST"]),
        Route(one + "/mr/{mmr:int}", meter_reading, methods=["GET", "HEAD"]),
    ]
