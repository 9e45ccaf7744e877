"""COMM procedure behind a TLS-terminating proxy: the client certificate forwarded in
``x-forwarded-client-cert`` (envoy's format) is believed only from trusted proxy addresses."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import anyio
import httpx
import pytest

from openderms.protocols.ieee2030_5.app import create_2030_5_app
from openderms.protocols.ieee2030_5.schema.edev import EndDeviceList
from openderms.protocols.ieee2030_5.security.ca import CertificateAuthority, IssuedCertificate
from openderms.protocols.ieee2030_5.services import Ieee2030_5Services, build_services
from openderms.protocols.ieee2030_5.serving.proxy import identity_from_xfcc, parse_xfcc
from openderms.store import open_store

PROXY = "10.1.2.3"


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Ieee2030_5Services]:
    store = open_store(f"sqlite:///{tmp_path / 'sep.db'}")
    yield build_services(store.engine)
    store.close()


@pytest.fixture
def device() -> IssuedCertificate:
    return CertificateAuthority.create().issue_client("device")


def _get(services: Ieee2030_5Services, peer: str, headers: dict[str, str]) -> httpx.Response:
    app = create_2030_5_app(services, trusted_proxies=[PROXY])

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://sep") as c:
            return await c.get("/edev", headers=headers)

    return anyio.run(go)


def _xfcc_hash(cert: IssuedCertificate) -> str:
    return f'By=spiffe://server;Hash={hashlib.sha256(cert.cert_der).hexdigest()};Subject="CN=a,O=b"'


def test_comm_forwarded_certificate_from_a_trusted_proxy(
    services: Ieee2030_5Services, device: IssuedCertificate
) -> None:
    services.end_devices.ensure(device.identity)
    r = _get(services, PROXY, {"x-forwarded-client-cert": _xfcc_hash(device)})
    assert r.status_code == 200
    listed = EndDeviceList.from_xml(r.content)
    assert [e.sfdi for e in listed.items] == [device.identity.sfdi]


def test_comm_forwarded_certificate_from_anyone_else_is_ignored(
    services: Ieee2030_5Services, device: IssuedCertificate
) -> None:
    services.end_devices.ensure(device.identity)
    r = _get(services, "10.9.9.9", {"x-forwarded-client-cert": _xfcc_hash(device)})
    assert r.status_code == 403


def test_comm_no_forwarded_certificate_is_403(services: Ieee2030_5Services) -> None:
    assert _get(services, PROXY, {}).status_code == 403


def test_comm_xfcc_cert_without_hash(device: IssuedCertificate) -> None:
    header = f'Cert="{quote(device.cert_pem.decode())}";Subject="CN=x"'
    assert identity_from_xfcc(header) == device.identity


def test_comm_xfcc_first_element_is_the_client() -> None:
    header = "Hash=" + "a" * 64 + ';Subject="CN=a,O=b",Hash=' + "b" * 64
    assert parse_xfcc(header)["hash"] == "a" * 64
    assert parse_xfcc('Subject="CN=a;b";Hash=cc')["subject"] == "CN=a;b"
    assert identity_from_xfcc("Hash=zz") is None
    assert identity_from_xfcc('Cert="garbage"') is None
