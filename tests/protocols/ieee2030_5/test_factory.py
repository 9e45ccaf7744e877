"""The import-string app factory (``serving.factory:app_from_env``): refused settings name
what is wrong; served by two uvicorn workers over CSIP TLS, a usage point created through one
connection takes readings over any other (whichever worker accepts it) and every reading is
stored once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from openderms.errors import ValidationError
from openderms.protocols.ieee2030_5.schema.derp import DateTimeInterval
from openderms.protocols.ieee2030_5.schema.metering import (
    MirrorMeterReading,
    MirrorMeterReadingList,
    MirrorUsagePoint,
    Reading,
    ReadingType,
)
from openderms.protocols.ieee2030_5.security.tls import client_context
from openderms.protocols.ieee2030_5.services import build_services
from openderms.protocols.ieee2030_5.serving.factory import (
    PEN_ENV,
    STORE_URL_ENV,
    app_from_env,
)
from openderms.store import open_store
from openderms.store.engine import create_store_engine
from openderms.store.tables_2030_5 import SepReadingRow
from tests.protocols.ieee2030_5.conftest import Pki

SEP = {"content-type": "application/sep+xml"}
ROOT = Path(__file__).resolve().parents[3]
SERVE = """
import sys
from pathlib import Path
from openderms.protocols.ieee2030_5.serving.factory import FACTORY
from openderms.protocols.ieee2030_5.serving.server import TlsFiles, run, tls_config
cert, key, ca, port = sys.argv[1:5]
tls = TlsFiles(cert=Path(cert), key=Path(key), client_ca=Path(ca))
options = {"workers": 2, "factory": True, "lifespan": "on", "log_level": "warning"}
run(tls_config(FACTORY, tls, port=int(port), **options))
"""


def test_a_missing_store_url_is_named() -> None:
    with pytest.raises(ValidationError) as refused:
        app_from_env({})
    assert refused.value.issues[0].field == STORE_URL_ENV


def test_a_bad_pen_is_named(tmp_path: Path) -> None:
    env = {STORE_URL_ENV: f"sqlite:///{tmp_path / 'sep.db'}", PEN_ENV: "twelve"}
    with pytest.raises(ValidationError) as refused:
        app_from_env(env)
    assert (refused.value.issues[0].field, refused.value.issues[0].value) == (PEN_ENV, "twelve")


def test_a_store_not_migrated_is_refused(tmp_path: Path) -> None:
    """Workers never migrate (several starting at once would race): the store must be."""
    with pytest.raises(ValidationError) as refused:
        app_from_env({STORE_URL_ENV: f"sqlite:///{tmp_path / 'empty.db'}"})
    assert refused.value.issues[0].field == STORE_URL_ENV
    assert refused.value.issues[0].value is None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def two_workers(tmp_path: Path, pki: Pki) -> Iterator[tuple[str, str]]:
    """(base URL, store URL) of the factory app served by 2 workers in a subprocess, on a
    store where ``device1`` is an EndDevice."""
    url = f"sqlite:///{tmp_path / 'sep.db'}"
    store = open_store(url)
    services = build_services(store.engine, pen=12345)
    services.end_devices.ensure(pki.identities["device1"], None, pin=111115)
    services.close()
    store.close()
    port = free_port()
    env = {**os.environ, STORE_URL_ENV: url, PEN_ENV: "12345", "PYTHONPATH": str(ROOT / "src")}
    args = [str(pki.server.cert), str(pki.server.key), str(pki.ca), str(port)]
    proc = subprocess.Popen([sys.executable, "-c", SERVE, *args], env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "the server process ended"
            assert time.monotonic() < deadline, "the server did not start"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"https://127.0.0.1:{port}", url
    finally:
        proc.terminate()
        proc.wait(30)


def test_two_workers_share_usage_points_and_store_every_reading(
    two_workers: tuple[str, str], pki: Pki
) -> None:
    base, url = two_workers
    paths = pki.clients["device1"]
    lfdi = pki.identities["device1"].lfdi
    w_mrid, mup_mrid = "A" * 28 + "0001", "A" * 28 + "0000"
    watts = ReadingType(uom=38, kind=37, data_qualifier=2, flow_direction=1)
    mup = MirrorUsagePoint(
        mrid=mup_mrid,
        role_flags="0049",
        service_category_kind=0,
        status=1,
        device_lfdi=lfdi.upper(),
        readings=[MirrorMeterReading(mrid=w_mrid, description="W", reading_type=watts)],
    )

    def client() -> httpx.Client:  # a new TLS connection: either worker may accept it
        ctx = client_context(paths.cert, paths.key, pki.ca)
        return httpx.Client(base_url=base, verify=ctx, timeout=10)

    with client() as c:
        created = c.post("/mup", content=mup.to_xml(skip_empty=True), headers=SEP)
    assert created.status_code == 201
    href = created.headers["location"]
    statuses = []
    for i in range(8):
        period = DateTimeInterval(duration=30, start=1_700_000_000 + 30 * i)
        reading = MirrorMeterReading(mrid=w_mrid, reading=Reading(value=i, time_period=period))
        doc = MirrorMeterReadingList(all=1, results=1, items=[reading])
        with client() as c:
            statuses.append(
                c.post(href, content=doc.to_xml(skip_empty=True), headers=SEP).status_code
            )
    assert statuses == [204] * 8
    engine = create_store_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(func.count()).select_from(SepReadingRow)).scalar_one()
    finally:
        engine.dispose()
    assert rows == 8
