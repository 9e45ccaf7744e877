"""``/edev/{id}/der`` (DERList, DER: clause 10.10.4) and the documents clients PUT:
``dercap`` (DERCapability), ``derg`` (DERSettings), ``ders`` (DERStatus), ``dera``
(DERAvailability)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openderms.protocols.ieee2030_5.api.common import call, client, read_xml, services, xml
from openderms.protocols.ieee2030_5.manager.paging import paged, parse_page
from openderms.protocols.ieee2030_5.mapper import der as mapper
from openderms.protocols.ieee2030_5.mapper import links
from openderms.protocols.ieee2030_5.repository.der import DerDocKind
from openderms.protocols.ieee2030_5.schema.der import (
    DERAvailability,
    DERCapability,
    DERSettings,
    DERStatus,
)

Endpoint = Callable[[Request], Awaitable[Response]]
DOCUMENT_MODELS: Mapping[
    DerDocKind, type[DERCapability | DERSettings | DERStatus | DERAvailability]
] = MappingProxyType(
    {
        "capability": DERCapability,
        "settings": DERSettings,
        "status": DERStatus,
        "availability": DERAvailability,
    }
)


async def der_list(request: Request) -> Response:
    who = await client(request)
    s = services(request)
    edev = request.path_params["edev"]
    ders = await call(s.ders.of, who, edev)
    items, total = paged(ders, parse_page(request.query_params))
    return xml(mapper.der_list(edev, items, total, s.server.poll_rate_of("DERList")))


async def der(request: Request) -> Response:
    who = await client(request)
    args = who, request.path_params["edev"], request.path_params["der"]
    return xml(mapper.der(await call(services(request).ders.get, *args)))


def _get_document(kind: DerDocKind) -> Endpoint:
    async def get(request: Request) -> Response:
        who = await client(request)
        edev, n = request.path_params["edev"], request.path_params["der"]
        found = await call(services(request).ders.document, who, edev, n, kind)
        return xml(mapper.document(edev, n, kind, found))

    return get


def _put_document(kind: DerDocKind) -> Endpoint:
    async def put(request: Request) -> Response:
        """Replace the document (204); a malformed one is refused with 400, nothing kept."""
        who = await client(request)
        edev, n = request.path_params["edev"], request.path_params["der"]
        document = await read_xml(request, DOCUMENT_MODELS[kind])
        await call(services(request).ders.put, who, edev, n, kind, document)
        return Response(status_code=204)

    return put


def routes() -> list[Route]:
    base = links.EDEV + "/{edev:int}/der"
    out = [
        Route(base, der_list, methods=["GET", "HEAD"]),
        Route(base + "/{der:int}", der, methods=["GET", "HEAD"]),
    ]
    for kind, segment in mapper.DOCUMENT_PATHS.items():
        path = f"{base}/{{der:int}}/{segment}"
        out.append(Route(path, _get_document(kind), methods=["GET", "HEAD"]))
        out.append(Route(path, _put_document(kind), methods=["PUT"]))
    return out
