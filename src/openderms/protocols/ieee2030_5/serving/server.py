"""Run the 2030.5 app over CSIP TLS with uvicorn (uvloop, httptools, no access log).

    config = tls_config(app, TlsFiles(cert, key, client_ca), host="0.0.0.0", port=8443)
    uvicorn.Server(config).run()

Several processes may serve one port: ``run`` a configuration made with the import string of
an app factory (``serving.factory.FACTORY``, ``factory=True``) and ``workers=N``; each worker
keeps its own read caches (see ``manager.cache`` and ``serving.factory``).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from openderms.protocols.ieee2030_5.security.tls import server_context
from openderms.protocols.ieee2030_5.serving.protocol import ClientCertHttpToolsProtocol


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """PEM files: the server's certificate and key, and the CA that issues client ones."""

    cert: Path
    key: Path
    client_ca: Path


@dataclass(frozen=True, slots=True)
class CsipContextFactory:
    """uvicorn's ``ssl_context_factory``: the CSIP server context. A picklable object rather
    than a closure, so that ``workers > 1`` (spawned processes) can take it along."""

    tls: TlsFiles

    def __call__(
        self, _config: uvicorn.Config, _default: Callable[[], ssl.SSLContext]
    ) -> ssl.SSLContext:
        return server_context(self.tls.cert, self.tls.key, self.tls.client_ca)


def tls_config(
    app: ASGIApp | str,
    tls: TlsFiles,
    *,
    host: str = "127.0.0.1",
    port: int = 8443,
    **options: object,
) -> uvicorn.Config:
    """A uvicorn configuration serving ``app`` (an app, or an import string for ``workers``)
    with CSIP TLS and client identities. ``options`` go to ``uvicorn.Config`` (``lifespan``
    is "off" unless given)."""
    options = {"lifespan": "off", **options}
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=ClientCertHttpToolsProtocol,
        loop="uvloop",
        access_log=False,
        ssl_certfile=str(tls.cert),
        ssl_keyfile=str(tls.key),
        ssl_context_factory=CsipContextFactory(tls),
        **options,  # type: ignore[arg-type]
    )


def run(config: uvicorn.Config) -> None:
    """Serve ``config`` until stopped: in this process with one worker, else with uvicorn's
    supervisor of ``config.workers`` processes sharing one listening socket (``config.app``
    must then be an import string)."""
    if config.workers <= 1:
        uvicorn.Server(config).run()
        return
    if not isinstance(config.app, str):
        raise TypeError("workers > 1 need the app as an import string")
    from uvicorn.supervisors import Multiprocess

    sock = config.bind_socket()
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
