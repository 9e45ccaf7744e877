"""``/edev/{id}/fsa`` (FunctionSetAssignments, clause 9.5) and each FSA's program list."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openderms.protocols.ieee2030_5.api.common import call, client, services, xml
from openderms.protocols.ieee2030_5.manager.paging import paged, parse_page
from openderms.protocols.ieee2030_5.mapper import derp as derp_mapper
from openderms.protocols.ieee2030_5.mapper import fsa as mapper
from openderms.protocols.ieee2030_5.mapper import links


async def fsa_list(request: Request) -> Response:
    who = await client(request)
    s = services(request)
    edev = request.path_params["edev"]
    _, fsas = await call(s.fsas.of, who, edev)
    items, total = paged(fsas, parse_page(request.query_params))
    return xml(
        mapper.fsa_list(edev, items, total, s.server.poll_rate_of("FunctionSetAssignmentsList"))
    )


async def fsa(request: Request) -> Response:
    who = await client(request)
    edev = request.path_params["edev"]
    _, found = await call(services(request).fsas.get, who, edev, request.path_params["fsa"])
    return xml(mapper.fsa(edev, found))


async def fsa_programs(request: Request) -> Response:
    who = await client(request)
    s = services(request)
    edev, fsa_id = request.path_params["edev"], request.path_params["fsa"]
    programs = await call(s.programs.programs_of_fsa, who, edev, fsa_id)
    items, total = paged(programs, parse_page(request.query_params))
    href = links.fsa_programs(edev, fsa_id)
    return xml(
        derp_mapper.program_list(
            href, items, total, s.server.poll_rate_of("DERProgramList"), subscribable=1
        )
    )


def routes() -> list[Route]:
    base = links.EDEV + "/{edev:int}/fsa"
    return [
        Route(base, fsa_list, methods=["GET", "HEAD"]),
        Route(base + "/{fsa:int}", fsa, methods=["GET", "HEAD"]),
        Route(base + "/{fsa:int}/derp", fsa_programs, methods=["GET", "HEAD"]),
    ]
