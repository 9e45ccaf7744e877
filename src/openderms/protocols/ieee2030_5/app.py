"""The IEEE 2030.5 (CSIP) server as an ASGI app.

    services = build_services(store.engine, pen=PEN)
    app = create_2030_5_app(services)
    serve it with ``openderms.protocols.ieee2030_5.serving`` (TLS with client certificates),
    or behind a TLS-terminating proxy: ``create_2030_5_app(services, trusted_proxies=[...])``

The client's identity (its certificate's LFDI) reaches the app in the ASGI scope
(``api.common.CLIENT_SCOPE_KEY``), put there once per TLS connection by the serving layer or,
behind a proxy, from the forwarded certificate of a trusted proxy (``serving.proxy``).
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route

from openderms.errors import OpenDermsError
from openderms.protocols.ieee2030_5.api import (
    dcap,
    der,
    derp,
    edev,
    fsa,
    log,
    metering,
    pubsub,
    response,
)
from openderms.protocols.ieee2030_5.api.common import (
    RenderedCache,
    not_served,
    on_domain_error,
    on_http_error,
)
from openderms.protocols.ieee2030_5.services import Ieee2030_5Services
from openderms.protocols.ieee2030_5.serving.proxy import ForwardedClientCertMiddleware

ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE")
#: function sets of 2030.5 this server does not serve yet: answered 501 (clause 5.2 / CSIP)
NOT_SERVED = (
    "/upt",  # UsagePoint (metering)
    "/sub",  # Subscription
    "/tp",  # TariffProfile (pricing)
    "/msg",  # MessagingProgram
    "/dr",  # DemandResponseProgram
    "/file",  # File
    "/ppy",  # Prepayment
    "/bill",  # CustomerAccount (billing)
    "/edev/{edev:int}/di",  # DeviceInformation
    "/edev/{edev:int}/dstat",  # DeviceStatus
    "/edev/{edev:int}/ps",  # PowerStatus
    "/edev/{edev:int}/cfg",  # Configuration
)


def _not_served_routes() -> list[Route]:
    out = []
    for path in NOT_SERVED:
        out.append(Route(path, not_served, methods=list(ALL_METHODS)))
        out.append(Route(path + "/{rest:path}", not_served, methods=list(ALL_METHODS)))
    return out


def create_2030_5_app(
    services: Ieee2030_5Services, *, trusted_proxies: Iterable[str] = ()
) -> Starlette:
    """The 2030.5 server on ``services``. ``trusted_proxies``: addresses of TLS-terminating
    proxies whose ``x-forwarded-client-cert`` header is believed (none: direct TLS only)."""
    routes: list[BaseRoute] = [
        *dcap.routes(),
        *edev.routes(),
        *fsa.routes(),
        *derp.routes(),
        *der.routes(),
        *metering.routes(),
        *response.routes(),
        *log.routes(),
        *pubsub.routes(),
        *_not_served_routes(),
    ]
    proxies = frozenset(trusted_proxies)
    middleware = (
        [Middleware(ForwardedClientCertMiddleware, trusted_proxies=proxies)] if proxies else []
    )
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={OpenDermsError: on_domain_error, HTTPException: on_http_error},
    )
    app.state.ieee2030_5 = services
    app.state.ieee2030_5_rendered = RenderedCache()
    return app
