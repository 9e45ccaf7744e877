"""ERR procedures: malformed or unauthorised requests get a 4xx (with an ``Error`` body
where there is one) and change nothing; function sets not served answer 501."""

from __future__ import annotations

import pytest

from openderms.protocols.ieee2030_5.schema.error import Error
from tests.protocols.ieee2030_5 import provision
from tests.protocols.ieee2030_5.conftest import Running, Snapshot

SEP = {"content-type": "application/sep+xml"}

MALFORMED = [
    pytest.param(b"<EndDevice xmlns='urn:ieee:std:2030.5:ns'><sFDI>1", id="truncated"),
    pytest.param(b"not xml at all", id="not-xml"),
    pytest.param(
        b"<EndDevice xmlns='urn:ieee:std:2030.5:ns'><sFDI>abc</sFDI>"
        b"<changedTime>0</changedTime></EndDevice>",
        id="bad-value",
    ),
    pytest.param(
        b"<EndDevice xmlns='urn:ieee:std:2030.5:ns'><changedTime>0</changedTime></EndDevice>",
        id="missing-sfdi",
    ),
    pytest.param(
        b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>]>"
        b"<EndDevice xmlns='urn:ieee:std:2030.5:ns'><sFDI>&a;</sFDI></EndDevice>",
        id="dtd",
    ),
]


@pytest.mark.parametrize("body", MALFORMED)
def test_err_malformed_end_device_is_400_without_change(
    running: Running, snapshot: Snapshot, body: bytes
) -> None:
    """IEEE 2030.5 errors: a request the server cannot parse or whose values are invalid is
    answered 400 Bad Request, and no resource is changed."""
    provision.end_device(running, "device1")
    before = snapshot()
    with running.client("device1") as c:
        r = c.post("/edev", content=body, headers=SEP)
    assert r.status_code == 400
    assert Error.from_xml(r.content).reason_code == 1
    assert snapshot() == before


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("dercap", b"<DERCapability xmlns='urn:ieee:std:2030.5:ns'><type>4</type></DERCapability>"),
        ("derg", b"<DERSettings xmlns='urn:ieee:std:2030.5:ns'><setGradW>x</setGradW>"),
        ("ders", b"<DERStatus xmlns='urn:ieee:std:2030.5:ns'/>"),
        ("dera", b"<DERAvailability xmlns='urn:ieee:std:2030.5:ns'><readingTime>-"),
    ],
)
def test_err_malformed_der_document_is_400_without_change(
    running: Running, snapshot: Snapshot, kind: str, body: bytes
) -> None:
    device = provision.end_device(running, "device1")
    before = snapshot()
    with running.client("device1") as c:
        r = c.put(f"/edev/{device.id}/der/1/{kind}", content=body, headers=SEP)
    assert r.status_code == 400
    assert snapshot() == before


def test_err_wrong_content_type_is_refused(running: Running, snapshot: Snapshot) -> None:
    device = provision.end_device(running, "device1")
    before = snapshot()
    body = b"<DERStatus xmlns='urn:ieee:std:2030.5:ns'><readingTime>1</readingTime></DERStatus>"
    with running.client("device1") as c:
        r = c.put(f"/edev/{device.id}/der/1/ders", content=body, headers={"content-type": "a/b"})
    assert r.status_code == 400
    assert snapshot() == before


@pytest.mark.parametrize("path", ["/upt", "/tp", "/sub/1", "/edev/{id}/dstat", "/edev/{id}/di"])
def test_err_function_sets_not_served_are_501(running: Running, path: str) -> None:
    """IEEE 2030.5: a server answers 501 Not Implemented for a function set it does not
    implement."""
    device = provision.end_device(running, "device1")
    with running.client("device1") as c:
        assert c.get(path.format(id=device.id)).status_code == 501


def test_err_unknown_resources_and_methods(running: Running, snapshot: Snapshot) -> None:
    device = provision.end_device(running, "device1")
    before = snapshot()
    with running.client("device1") as c:
        assert c.get("/edev/999999").status_code == 404
        assert c.get("/derp/999999/derc").status_code == 404
        assert c.get("/nothing").status_code == 404
        assert c.get("/edev/not-a-number").status_code == 404
        assert c.delete(f"/edev/{device.id}").status_code == 405
        assert c.put("/dcap", content=b"<x/>", headers=SEP).status_code == 405
        assert c.get("/edev", params={"l": "-1"}).status_code == 400
        assert c.get("/edev", params={"s": "x"}).status_code == 400
    assert snapshot() == before


def test_err_an_oversized_body_is_refused(running: Running, snapshot: Snapshot) -> None:
    provision.end_device(running, "device1")
    before = snapshot()
    body = b"<EndDevice xmlns='urn:ieee:std:2030.5:ns'>" + b" " * 100_000 + b"</EndDevice>"
    with running.client("device1") as c:
        assert c.post("/edev", content=body, headers=SEP).status_code == 400
    assert snapshot() == before
