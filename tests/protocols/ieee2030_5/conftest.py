"""Fixtures of the 2030.5 tests: sep.xsd, a test PKI, and the server over real TLS on
127.0.0.1 with clients holding certificates of the test CA (keys made at run time)."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from lxml import etree

from openderms.protocols.ieee2030_5.app import create_2030_5_app
from openderms.protocols.ieee2030_5.manager.pubsub import DeliveryPolicy
from openderms.protocols.ieee2030_5.security.local_pki import LocalPki, make_local_pki
from openderms.protocols.ieee2030_5.security.tls import client_context
from openderms.protocols.ieee2030_5.services import Ieee2030_5Services, build_services
from openderms.protocols.ieee2030_5.serving.server import TlsFiles, tls_config
from openderms.store import Store, open_store
from tests.protocols.ieee2030_5.sep_schema import assert_valid, load_sep_schema

CLIENT_NAMES = ("device1", "device2", "aggA", "aggB", "stranger")


Pki = LocalPki


@pytest.fixture(scope="session")
def sep_schema() -> etree.XMLSchema:
    return load_sep_schema()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    return make_local_pki(folder, CLIENT_NAMES, ca_name="openderms test CA")


@dataclass
class Running:
    base_url: str
    services: Ieee2030_5Services
    store: Store
    pki: Pki
    schema: etree.XMLSchema

    def client(self, name: str) -> httpx.Client:
        """An httpx client over CSIP TLS holding ``name``'s certificate; every response
        body it receives is checked against sep.xsd."""
        paths = self.pki.clients[name]
        ctx = client_context(paths.cert, paths.key, self.pki.ca)
        return httpx.Client(
            base_url=self.base_url,
            verify=ctx,
            event_hooks={"response": [self._validate]},
            timeout=10,
        )

    def _validate(self, response: httpx.Response) -> None:
        response.read()
        if response.content:
            assert response.headers["content-type"] == "application/sep+xml"
            assert_valid(self.schema, response.content)


#: Notification retries of the tests: 50 ms doubling up to 0.5 s
FAST_RETRIES = DeliveryPolicy(backoff_s=0.05, max_backoff_s=0.5, max_attempts=100, timeout_s=2)


def notify_context(pki: Pki) -> ssl.SSLContext:
    """What the server POSTs Notifications with: trusts the test CA."""
    return ssl.create_default_context(cafile=str(pki.ca))


def serve_in_thread(config: uvicorn.Config) -> tuple[uvicorn.Server, threading.Thread]:
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="ieee2030_5-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the 2030.5 test server did not start")
        time.sleep(0.02)
    return server, thread


@pytest.fixture
def running(tmp_path: Path, pki: Pki, sep_schema: etree.XMLSchema) -> Iterator[Running]:
    """A fresh server (own SQLite store) on a free loopback port."""
    store = open_store(f"sqlite:///{tmp_path / 'sep.db'}")
    services = build_services(
        store.engine, pen=12345, notify_tls=notify_context(pki), notify_policy=FAST_RETRIES
    )
    app = create_2030_5_app(services)
    tls = TlsFiles(cert=pki.server.cert, key=pki.server.key, client_ca=pki.ca)
    config = tls_config(app, tls, host="127.0.0.1", port=0, log_level="warning")
    server, thread = serve_in_thread(config)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Running(f"https://127.0.0.1:{port}", services, store, pki, sep_schema)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        services.close()
        store.close()


Snapshot = Callable[[], dict[str, list[tuple[object, ...]]]]


@pytest.fixture
def snapshot(running: Running) -> Snapshot:
    """Every 2030.5 table's rows, to show that a refused request changed nothing."""

    def take() -> dict[str, list[tuple[object, ...]]]:
        from sqlalchemy import text

        out = {}
        with running.store.engine.connect() as conn:
            for table in (
                "sep_client",
                "sep_end_device",
                "sep_fsa",
                "sep_end_device_fsa",
                "sep_der_program",
                "sep_der_control",
                "sep_der",
                "sep_setting",
                "sep_mirror_usage_point",
                "sep_mirror_meter_reading",
                "sep_reading",
                "sep_der_control_response",
                "sep_log_event",
                "sep_subscription",
                "sep_notification",
            ):
                rows = conn.execute(text(f"SELECT * FROM {table} ORDER BY 1")).all()
                out[table] = [tuple(r) for r in rows]
        return out

    return take
