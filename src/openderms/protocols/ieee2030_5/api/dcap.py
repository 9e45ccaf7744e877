"""``/dcap`` (DeviceCapability, clause 9.4.2) and ``/tm`` (Time, clause 10.1)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openderms.protocols.ieee2030_5.api.common import call, client, services, xml
from openderms.protocols.ieee2030_5.domain import Page
from openderms.protocols.ieee2030_5.mapper import dcap as mapper
from openderms.protocols.ieee2030_5.mapper import links


async def device_capability(request: Request) -> Response:
    who = await client(request)
    s = services(request)
    _, end_devices = await call(s.end_devices.page, who, Page(limit=0))
    programs = await call(s.programs.programs, who)
    mups = await call(s.metering.mups, who)
    return xml(
        mapper.device_capability(
            s.server.poll_rate_of("DeviceCapability"), end_devices, len(programs), len(mups)
        )
    )


async def time(request: Request) -> Response:
    await client(request)
    s = services(request)
    return xml(mapper.time(s.server.now(), s.server.poll_rate_s))


def routes() -> list[Route]:
    return [
        Route(links.DCAP, device_capability, methods=["GET", "HEAD"]),
        Route(links.TIME, time, methods=["GET", "HEAD"]),
    ]
