"""``openderms serve --sep-port N``: the REST API, the portal and the IEEE 2030.5 server (CSIP
TLS) in one process, on one store, the 2030.5 side kept in step with the registry.

At start every connected DER with a certificate identity is mapped to an EndDevice, its
topology node's FSA and DERProgram (``RegistrySync.start``); then each ``der.provisioned`` and
``der.status_changed`` event the registry publishes on the bus (and ``der.screened`` when it
rejects: an update may) maps or cuts off that DER (``RegistrySync.der_changed``), and each
``der.aggregator_added`` maps the DER behind that aggregator
(``RegistrySync.aggregator_added``). TLS: the given server certificate, key and client CA,
else a workspace CA made on first use (``<workspace>/sep-pki``, kept for the next runs).

    async with open_serving(settings, "127.0.0.1", 8000, SepOptions(port=8443)) as s:
        s.sep_url, s.api_url
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from openderms.bus import BusEventPublisher, open_bus
from openderms.bus import subjects as sub
from openderms.bus.port import Message
from openderms.config import Settings
from openderms.protocols.ieee2030_5.app import create_2030_5_app
from openderms.protocols.ieee2030_5.security.ca import CertificateAuthority
from openderms.protocols.ieee2030_5.security.identity import ClientIdentity
from openderms.protocols.ieee2030_5.services import Ieee2030_5Services, build_services
from openderms.protocols.ieee2030_5.serving.server import TlsFiles, tls_config
from openderms.services.der_2030_5 import Ieee2030_5Mapping, RegistrySync
from openderms.services.live.servers import serve
from openderms.store.aggregator_repository import SqlAggregatorRepository
from openderms.web.app import create_app
from openderms.web.wiring import Runtime, open_runtime

log = logging.getLogger(__name__)

#: the registry events that change what the 2030.5 side serves
EVENTS = ("provisioned", "status_changed")
#: published by ``AggregatorRegistry.add`` through the registry's publisher
AGGREGATOR_ADDED = sub.registry_der("aggregator_added")


@dataclass(frozen=True, slots=True)
class SepOptions:
    """Where the 2030.5 server listens and its TLS files (all three, or none: the
    workspace CA)."""

    port: int
    host: str = "127.0.0.1"
    cert: Path | None = None
    key: Path | None = None
    ca: Path | None = None


@dataclass(frozen=True, slots=True)
class Serving:
    api_url: str
    sep_url: str
    tls: TlsFiles
    runtime: Runtime
    services: Ieee2030_5Services
    sync: RegistrySync
    mapping: Ieee2030_5Mapping


def sep_tls(workspace: Path, opts: SepOptions) -> TlsFiles:
    """The server's TLS files: those given, else the workspace CA's (made on first use)."""
    if opts.cert is not None and opts.key is not None and opts.ca is not None:
        return TlsFiles(cert=opts.cert, key=opts.key, client_ca=opts.ca)
    if (opts.cert, opts.key, opts.ca) != (None, None, None):
        raise ValueError("give --sep-cert, --sep-key and --sep-ca together, or none of them")
    folder = workspace / "sep-pki"
    tls = TlsFiles(
        cert=folder / "server.crt", key=folder / "server.key", client_ca=folder / "ca.crt"
    )
    if tls.cert.exists() and tls.key.exists() and tls.client_ca.exists():
        return tls
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    ca = CertificateAuthority.create("openderms workspace CA")
    tls.client_ca.write_bytes(ca.root.cert_pem)
    hosts = list(dict.fromkeys([opts.host, "127.0.0.1", "localhost"]))
    paths = ca.issue_server(hosts).write(folder, "server")
    return TlsFiles(cert=paths.cert, key=paths.key, client_ca=tls.client_ca)


@contextlib.asynccontextmanager
async def open_serving(
    settings: Settings, host: str, port: int, sep: SepOptions
) -> AsyncIterator[Serving]:
    """Both servers started in this event loop (port 0: any free one); stopped on exit."""
    tls = sep_tls(settings.workspace, sep)
    bus = await open_bus(settings.bus_url)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(bus.close)
        events = await BusEventPublisher.start(bus)
        stack.push_async_callback(events.close)
        runtime = stack.enter_context(open_runtime(settings, events))
        services = build_services(runtime.store.engine)
        stack.callback(services.close)
        aggregators = SqlAggregatorRepository(runtime.store.engine)

        def identities() -> dict[str, ClientIdentity]:
            return {a.id: ClientIdentity.from_lfdi(a.lfdi) for a in aggregators.all()}

        sync = RegistrySync(services, runtime.store.ders, identities)
        mapping = await asyncio.to_thread(sync.start)
        log.info("2030.5: %d DER mapped", len(mapping.end_device_of))

        async def follow(msg: Message) -> None:
            der_id = str(msg.json()["id"])
            done = await asyncio.to_thread(sync.der_changed, der_id)
            log.info("2030.5: DER %s %s", der_id, done)

        async def rejected(msg: Message) -> None:
            if msg.json().get("decision") == "reject":  # an update may reject a served DER
                await follow(msg)

        async def adopt(msg: Message) -> None:
            agg_id = str(msg.json()["id"])
            n = await asyncio.to_thread(sync.aggregator_added, agg_id)
            log.info("2030.5: aggregator %s added, %d DER mapped", agg_id, n)

        for event in EVENTS:
            subscription = await bus.subscribe(sub.registry_der(event), follow)
            stack.push_async_callback(subscription.stop)
        for subject, handler in (
            (AGGREGATOR_ADDED, adopt),
            (sub.registry_der("screened"), rejected),
        ):
            subscription = await bus.subscribe(subject, handler)
            stack.push_async_callback(subscription.stop)
        sep_port = await serve(
            tls_config(
                create_2030_5_app(services),
                tls,
                host=sep.host,
                port=sep.port,
                log_level="warning",
                timeout_graceful_shutdown=3,
            ),
            stack,
        )
        api = create_app(settings, service=runtime.service, tokens=runtime.tokens)
        config = uvicorn.Config(
            api, host=host, port=port, lifespan="off", access_log=False, log_level="warning"
        )
        api_port = await serve(config, stack)
        yield Serving(
            api_url=f"http://{host}:{api_port}",
            sep_url=f"https://{sep.host}:{sep_port}",
            tls=tls,
            runtime=runtime,
            services=services,
            sync=sync,
            mapping=mapping,
        )


async def serve_forever(settings: Settings, host: str, port: int, sep: SepOptions) -> None:
    """Run both servers until cancelled (Ctrl-C)."""
    async with open_serving(settings, host, port, sep):
        await asyncio.Event().wait()
