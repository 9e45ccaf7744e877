"""Certificate identities over REST, against a real server on every store: ``/api/v1/
aggregators`` (operators only; LFDI given or computed from the PEM) and a DER's
``device_lfdi``; a bad or taken LFDI is a 422 problem naming field and value, storing nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from openderms.protocols.ieee2030_5.security.ca import CertificateAuthority
from tests.web.conftest import Web

Body = Callable[..., dict[str, Any]]
PROBLEM = "application/problem+json"
LFDI = "0123456789abcdef0123456789abcdef01234567"


def ders_total(web: Web) -> int:
    r = web.client.get("/api/v1/ders", headers=web.auth("ops"))
    n: int = r.json()["total"]
    return n


def test_an_operator_registers_an_aggregator_from_its_certificate(any_web: Web) -> None:
    issued = CertificateAuthority.create("test CA").issue_client("agg")
    body = {"id": "agg", "name": "Agg Co", "certificate_pem": issued.cert_pem.decode()}
    r = any_web.client.post("/api/v1/aggregators", json=body, headers=any_web.auth("ops"))
    assert r.status_code == 201, r.text
    assert r.json()["lfdi"] == issued.identity.lfdi.upper()
    listed = any_web.client.get("/api/v1/aggregators", headers=any_web.auth("ops")).json()
    assert [(a["id"], a["lfdi"]) for a in listed] == [("agg", issued.identity.lfdi.upper())]


@pytest.mark.parametrize("who", ["acme", "agg"])
def test_only_an_operator_manages_aggregators(web: Web, who: str) -> None:
    body = {"id": "agg", "lfdi": LFDI}
    r = web.client.post("/api/v1/aggregators", json=body, headers=web.auth(who))
    assert r.status_code == 403
    assert web.client.get("/api/v1/aggregators", headers=web.auth("ops")).json() == []


def test_a_bad_aggregator_lfdi_is_422_naming_field_and_value(web: Web) -> None:
    body = {"id": "agg", "lfdi": "abc"}
    r = web.client.post("/api/v1/aggregators", json=body, headers=web.auth("ops"))
    assert r.status_code == 422
    assert r.headers["content-type"] == PROBLEM
    [issue] = r.json()["issues"]
    assert (issue["object"], issue["id"], issue["field"], issue["value"]) == (
        "aggregator",
        "agg",
        "lfdi",
        "abc",
    )
    assert web.client.get("/api/v1/aggregators", headers=web.auth("ops")).json() == []


@pytest.mark.parametrize("bad", ["xyz", LFDI + "8", LFDI[:-1] + "z"])
def test_a_bad_der_lfdi_is_422_naming_field_and_value_storing_nothing(
    any_web: Web, registration: Body, bad: str
) -> None:
    body = registration(device_lfdi=bad)
    r = any_web.client.post("/api/v1/ders", json=body, headers=any_web.auth("acme"))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    [issue] = r.json()["issues"]
    assert (issue["object"], issue["field"], issue["value"]) == ("registration", "device_lfdi", bad)
    assert ders_total(any_web) == 0


def test_an_lfdi_of_an_aggregator_is_refused_for_a_der(any_web: Web, registration: Body) -> None:
    r = any_web.client.post(
        "/api/v1/aggregators", json={"id": "agg", "lfdi": LFDI}, headers=any_web.auth("ops")
    )
    assert r.status_code == 201, r.text
    body = registration(device_lfdi=LFDI)
    r = any_web.client.post("/api/v1/ders", json=body, headers=any_web.auth("acme"))
    assert r.status_code == 422
    [issue] = r.json()["issues"]
    assert (issue["field"], issue["value"]) == ("device_lfdi", LFDI.upper())
    assert "aggregator agg" in issue["expected"]
    assert ders_total(any_web) == 0
    ok = any_web.client.post(
        "/api/v1/ders", json=registration(device_lfdi=LFDI.replace("0", "f")),
        headers=any_web.auth("acme"),
    )  # fmt: skip
    assert ok.status_code == 201, ok.text
    assert ok.json()["registration"]["device_lfdi"] == LFDI.replace("0", "f").upper()
