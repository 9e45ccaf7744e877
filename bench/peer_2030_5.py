"""The peer of the 2030.5 load bench: a minimal Starlette app served exactly like the 2030.5
server (``serving.server.tls_config``: uvicorn, uvloop, httptools with the CSIP TLS protocol,
CSIP TLS), answering every GET with a fixed DERControlList-sized body and every POST (after
reading its body) with 201 + Location. It does no parsing, no database and no 2030.5 logic:
what it sustains is the ceiling of the serving stack on this machine.

    ECHO_FACTORY = "peer_2030_5:echo_app"   (bench/ on sys.path; ``factory=True``)
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ECHO_FACTORY = "peer_2030_5:echo_app"
BODY = (
    b'<DERControlList xmlns="urn:ieee:std:2030.5:ns" href="/derp/1/derc" all="0" results="0"'
    b' subscribable="1" pollRate="900"/>'
)


async def _get(request: Request) -> Response:
    return Response(BODY, media_type="application/sep+xml")


async def _post(request: Request) -> Response:
    await request.body()
    return Response(status_code=201, headers={"Location": request.url.path + "/1"})


def echo_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/{path:path}", _get, methods=["GET"]),
            Route("/{path:path}", _post, methods=["POST"]),
        ]
    )
