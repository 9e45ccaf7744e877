"""The app factory: ``create_app(settings)`` builds the REST API, the portal and their wiring.

Nothing happens at import time. Tests pass their own registry service and token repository
(in-memory ports); without them the app opens the store named by the settings, builds the
network (an imported model in the workspace, else the twin preset) and the registry service
when it starts, and closes the store when it stops.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from openderms import __version__
from openderms.config import Settings
from openderms.web.api import aggregators as api_aggregators
from openderms.web.api import ders as api_ders
from openderms.web.api import grid as api_grid
from openderms.web.api import hosting as api_hosting
from openderms.web.auth import Authenticator, TokenRepository
from openderms.web.deps import Registry, WebContext
from openderms.web.errors import install_error_handlers
from openderms.web.mapper import ders as ders_mapper
from openderms.web.portal import auth as portal_auth
from openderms.web.portal import ders as portal_ders
from openderms.web.portal import forms

HERE = Path(__file__).parent
API_V1 = "/api/v1"

DESCRIPTION = """\
DER registration and self-provisioning. Every call takes `Authorization: Bearer <token>`
(`openderms token create --role installer --id acme`). Errors are RFC 7807
`application/problem+json`; invalid input lists every issue as
`{object, id, field, value, expected}`. Powers in kW, generator convention (positive = export).
"""


def create_app(
    settings: Settings,
    *,
    service: Registry | None = None,
    tokens: TokenRepository | None = None,
) -> FastAPI:
    """The web app. Give ``service`` and ``tokens`` together to skip the default wiring."""
    if (service is None) != (tokens is None):
        raise ValueError("pass both service and tokens, or neither (default wiring)")
    templates = portal_templates()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if service is not None and tokens is not None:
            _install(app, settings, service, tokens, templates)
            yield
            return
        from openderms.bus import BusEventPublisher, open_bus
        from openderms.web.wiring import open_runtime

        bus = await open_bus(settings.bus_url)
        events = await BusEventPublisher.start(bus)
        try:
            with open_runtime(settings, events) as runtime:
                _install(app, settings, runtime.service, runtime.tokens, templates)
                yield
        finally:
            await events.close()
            await bus.close()

    app = FastAPI(
        title="openderms",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served below from the bundled Swagger UI, not a CDN
        redoc_url=None,
    )
    if service is not None and tokens is not None:
        _install(app, settings, service, tokens, templates)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    install_error_handlers(app, templates)
    app.include_router(api_ders.router, prefix=API_V1)
    app.include_router(api_hosting.router, prefix=API_V1)
    app.include_router(api_grid.router, prefix=API_V1)
    app.include_router(api_aggregators.router, prefix=API_V1)
    app.include_router(portal_auth.router)
    app.include_router(portal_ders.router)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="openderms API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon.png",
        )

    return app


def portal_templates() -> Jinja2Templates:
    """The portal's templates, with the helpers every page may call."""
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals.update(
        slot_id=forms.slot_id,
        decision_words=ders_mapper.decision_words,
        limit_kw=ders_mapper.limit_kw,
        available_actions=ders_mapper.available_actions,
    )
    templates.env.filters["words"] = forms.words
    return templates


def _install(
    app: FastAPI,
    settings: Settings,
    service: Registry,
    tokens: TokenRepository,
    templates: Jinja2Templates,
) -> None:
    app.state.web = WebContext(registry=service, templates=templates)
    app.state.authenticator = Authenticator(tokens, settings.bootstrap_operator_token)
