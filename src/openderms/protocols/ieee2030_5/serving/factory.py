"""The 2030.5 app built from environment variables, for uvicorn's import-string factory
(what ``workers > 1`` needs: every worker process builds its own app)::

    OPENDERMS_2030_5_STORE_URL=postgresql://127.0.0.1/openderms \\
    uvicorn openderms.protocols.ieee2030_5.serving.factory:app_from_env --factory ...

or ``serving.server.run(tls_config(FACTORY, tls, workers=2, factory=True, lifespan="on"))``.

Variables: ``OPENDERMS_2030_5_STORE_URL`` (required: the store, migrated to the newest schema
beforehand, e.g. by ``openderms.store.open_store``: workers do not migrate, so that several
starting at once never race), ``OPENDERMS_2030_5_PEN`` (the IANA private enterprise number
ending the mRIDs the server makes; default 0), ``OPENDERMS_2030_5_TRUSTED_PROXIES``
(comma-separated addresses whose ``x-forwarded-client-cert`` is believed; default none).

Each worker has its own read caches and telemetry writer (``manager.cache``): what one worker
caches is invalidated only by writes made through that worker. With several workers, what the
database holds is shared; what is only in memory is not (see ``SHARED_ACROSS_WORKERS``).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Mapping

from starlette.types import ASGIApp, Receive, Scope, Send

from openderms.errors import ValidationError, ValidationIssue
from openderms.protocols.ieee2030_5.app import create_2030_5_app
from openderms.protocols.ieee2030_5.services import build_services
from openderms.store.engine import create_store_engine
from openderms.store.schema import current_revision, head_revision

FACTORY = "openderms.protocols.ieee2030_5.serving.factory:app_from_env"
STORE_URL_ENV = "OPENDERMS_2030_5_STORE_URL"
PEN_ENV = "OPENDERMS_2030_5_PEN"
TRUSTED_PROXIES_ENV = "OPENDERMS_2030_5_TRUSTED_PROXIES"

#: objects allocated (net) between two young collections in a serving process (default 700)
GC_GEN0_THRESHOLD = 20_000
#: what stays correct with several workers, and what does not yet (each worker's memory)
SHARED_ACROSS_WORKERS = {
    "telemetry": "shared: each post is committed to the store before its 2xx, whichever "
    "worker takes it",
    "usage points": "shared: a worker that has not cached a MirrorUsagePoint reads it from the "
    "store; a MirrorMeterReading added through another worker is looked up in the store "
    "(correct, but each such post then reads the store in that worker)",
    "controls and programs": "NOT shared: a worker serves its cached DERControls and "
    "programs until a write through that same worker invalidates them; a control created "
    "through another worker, or the internal API of another process, is not seen (replicas "
    "are to invalidate each other over the bus)",
    "access": "NOT shared: an EndDevice's access changed through one worker (aggregator, "
    "revocation) is seen by the others only once their caches are emptied",
    "latest readings": "NOT shared: ``metering.latest*`` of a worker knows the readings "
    "posted to that worker only",
}


class _ClosingApp:
    """``app``, whose services are closed (queued telemetry written) at lifespan shutdown."""

    def __init__(self, app: ASGIApp, on_shutdown: Callable[[], None]) -> None:
        self.app = app
        self._on_shutdown = on_shutdown

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self._on_shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _issue(field: str, value: object, expected: str) -> ValidationError:
    issue = ValidationIssue("environment", "2030.5 server", field, value, expected)
    return ValidationError([issue])


def app_from_env(environ: Mapping[str, str] | None = None) -> ASGIApp:
    """The 2030.5 app on the store ``OPENDERMS_2030_5_STORE_URL`` names (see the module)."""
    env = os.environ if environ is None else environ
    url = env.get(STORE_URL_ENV, "")
    if not url:
        raise _issue(STORE_URL_ENV, url, "a store URL (sqlite:///... or postgresql://...)")
    pen_text = env.get(PEN_ENV, "0")
    if not pen_text.isdigit() or int(pen_text) >= 2**32:
        raise _issue(PEN_ENV, pen_text, "an IANA private enterprise number (0 .. 2**32-1)")
    proxies = [p.strip() for p in env.get(TRUSTED_PROXIES_ENV, "").split(",") if p.strip()]
    engine = create_store_engine(url)
    found = current_revision(engine)
    if found != head_revision():
        engine.dispose()
        raise _issue(STORE_URL_ENV, found, f"a store migrated to {head_revision()}")
    services = build_services(engine, pen=int(pen_text))

    def close() -> None:
        services.close()
        engine.dispose()

    app = _ClosingApp(create_2030_5_app(services, trusted_proxies=proxies), close)
    quiet_collector()
    return app


def quiet_collector() -> None:
    """Keep the garbage collector's full collections (each one a pause of every request:
    200-280 ms at 10,000 devices) rare and short, in this serving process. What start-up
    made (modules, models, table metadata: ~130,000 objects) is never garbage: frozen, it is
    not scanned again. With the young-generation threshold at ``GC_GEN0_THRESHOLD`` rather
    than 700, the objects of requests in flight are rarely promoted to the old generation,
    whose growth is what triggers a full collection."""
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, *gc.get_threshold()[1:])
