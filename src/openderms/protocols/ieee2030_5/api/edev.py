"""``/edev`` (EndDeviceList, EndDevice: clause 9.4.3) and ``/edev/{id}/rg`` (Registration)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openderms.errors import NotFoundError
from openderms.protocols.ieee2030_5.api.common import call, client, read_xml, services, xml
from openderms.protocols.ieee2030_5.manager.paging import parse_page
from openderms.protocols.ieee2030_5.mapper import edev as mapper
from openderms.protocols.ieee2030_5.mapper import links
from openderms.protocols.ieee2030_5.schema.csipaus import ConnectionPoint as ConnectionPointXml
from openderms.protocols.ieee2030_5.schema.edev import EndDevice as EndDeviceXml


async def end_device_list(request: Request) -> Response:
    who = await client(request)
    s = services(request)
    page = parse_page(request.query_params)
    devices, total = await call(s.end_devices.page, who, page)
    rates = s.server.poll_rate_of("EndDeviceList"), s.server.post_rate_s
    return xml(mapper.end_device_list(devices, total, *rates))


async def register(request: Request) -> Response:
    """POST an EndDevice: 201 with its Location (clause 9.4.3.2.1)."""
    who = await client(request)
    posted = await read_xml(request, EndDeviceXml)
    device = await call(services(request).end_devices.register, who, posted)
    return Response(status_code=201, headers={"Location": links.edev(device.id)})


async def end_device(request: Request) -> Response:
    who = await client(request)
    s = services(request)
    device = await call(s.end_devices.get, who, request.path_params["edev"])
    return xml(mapper.end_device(device, s.server.post_rate_s))


async def registration(request: Request) -> Response:
    who = await client(request)
    s = services(request)
    device = await call(s.end_devices.get, who, request.path_params["edev"])
    found = mapper.registration(device, s.server.poll_rate_s)
    if found is None:
        raise NotFoundError("Registration", str(device.id))
    return xml(found)


async def connection_point(request: Request) -> Response:
    """GET the EndDevice's CSIP-AUS ConnectionPoint (404 until its client PUT one)."""
    who = await client(request)
    device = await call(services(request).end_devices.get, who, request.path_params["edev"])
    found = mapper.connection_point(device)
    if found is None:
        raise NotFoundError("ConnectionPoint", str(device.id))
    return xml(found)


async def put_connection_point(request: Request) -> Response:
    """PUT the ConnectionPoint (CSIP-AUS Annex E): 201 the first time, 204 on an update,
    both with its Location; 400 (reasonCode 1) for an id that is not an NMI."""
    who = await client(request)
    posted = await read_xml(request, ConnectionPointXml)
    args = who, request.path_params["edev"], posted
    device, created = await call(services(request).end_devices.set_connection_point, *args)
    location = {"Location": links.connection_point(device.id)}
    return Response(status_code=201 if created else 204, headers=location)


def routes() -> list[Route]:
    return [
        Route(links.EDEV, end_device_list, methods=["GET", "HEAD"]),
        Route(links.EDEV, register, methods=["POST"]),
        Route(links.EDEV + "/{edev:int}", end_device, methods=["GET", "HEAD"]),
        Route(links.EDEV + "/{edev:int}/rg", registration, methods=["GET", "HEAD"]),
        Route(links.EDEV + "/{edev:int}/cp", connection_point, methods=["GET", "HEAD"]),
        Route(links.EDEV + "/{edev:int}/cp", put_connection_point, methods=["PUT"]),
    ]
