"""The portal over HTTP (no browser): login and its cookie, the form's inline validation
fragment, submitting, the list and the operator's lifecycle buttons."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from openderms.web.auth import COOKIE
from tests.web.conftest import Web


def form_of(sp: str, **over: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "der_type": "pv",
        "nameplate.p_export_kw": "6",
        "nameplate.s_kva": "7",
        "inverter.make": "SunCo",
        "inverter.model": "S-7",
        "inverter.certifications": ["UL1741SB", "CSIP"],
        "location.service_point_id": sp,
        "owner_name": "Ada Owner",
        "owner_email": "ada@example.org",
        "application_id": "WEB-1",
        "comm_path": "ieee2030_5_direct",
        "programs": ["constraint_management", "dso_market"],
    }
    data.update(over)
    return data


@contextmanager
def login(web: Web, who: str) -> Iterator[httpx.Client]:
    """A client of its own (its own cookie jar) logged in as ``who``."""
    with httpx.Client(base_url=str(web.client.base_url), timeout=60) as client:
        r = client.post("/login", data={"token": web.tokens[who], "next": "/portal/ders/new"})
        assert r.status_code == 303
        assert r.headers["location"] == "/portal/ders/new"
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        yield client


@pytest.fixture
def acme(web: Web) -> Iterator[httpx.Client]:
    with login(web, "acme") as client:
        yield client


def test_pages_without_login_redirect_to_the_login_page(web: Web) -> None:
    r = web.client.get("/portal/ders")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/portal/ders"
    page = web.client.get("/login")
    assert page.status_code == 200
    assert '<label for="token">' in page.text


def test_a_bad_token_is_refused_on_the_login_page(web: Web) -> None:
    r = web.client.post("/login", data={"token": "nope"})
    assert r.status_code == 401
    assert "not known" in r.text
    assert COOKIE not in r.headers.get("set-cookie", "")


def test_login_never_redirects_off_site(web: Web) -> None:
    r = web.client.post("/login", data={"token": web.tokens["acme"], "next": "//evil.example/"})
    assert r.headers["location"] == "/portal/ders"


def test_the_form_has_a_label_for_every_input(acme: httpx.Client) -> None:
    page = acme.get("/portal/ders/new").text
    ids = set(re.findall(r'<(?:input|select)[^>]*\sid="([^"]+)"', page))
    labels = set(re.findall(r'<label for="([^"]+)"', page))
    assert ids
    assert ids <= labels
    assert "/static/htmx.min.js" in page


def test_inline_validation_names_only_the_filled_fields_that_are_wrong(
    acme: httpx.Client,
) -> None:
    r = acme.post("/portal/ders/validate", data={"nameplate.p_export_kw": "lots"})
    assert r.status_code == 200
    slot = re.search(r'id="err-nameplate-p_export_kw"[^>]*>(.*?)</div>', r.text, re.S)
    assert slot is not None
    assert "lots is not accepted" in slot.group(1)
    assert 'hx-swap-oob="true"' in r.text
    # untouched required fields are not flagged while typing
    owner = re.search(r'id="err-owner_name"[^>]*>(.*?)</div>', r.text, re.S)
    assert owner is not None
    assert owner.group(1).strip() == ""


def test_inline_validation_shows_the_hosting_capacity_of_the_location(
    acme: httpx.Client, service_points: list[str]
) -> None:
    r = acme.post("/portal/ders/validate", data=form_of(service_points[0]))
    assert "Looks complete" in r.text
    assert re.search(r"room for [\d,.]+ kW more export", r.text)
    unknown = acme.post("/portal/ders/validate", data=form_of("GHOST"))
    assert "room for" not in unknown.text


def test_submitting_a_bad_form_shows_every_message_and_keeps_the_values(
    acme: httpx.Client, service_points: list[str]
) -> None:
    data = form_of(service_points[0], **{"nameplate.s_kva": "3", "owner_email": "x"})
    r = acme.post("/portal/ders", data=data)
    assert r.status_code == 422
    assert "exceeds s_kva" in r.text  # the group's message
    assert "x is not accepted" in r.text
    assert 'value="SunCo"' in r.text
    assert acme.get("/portal/ders").text.count('<tr id="row-') == 0


def test_submitting_an_unknown_service_point_names_it(acme: httpx.Client) -> None:
    r = acme.post("/portal/ders", data=form_of("GHOST"))
    assert r.status_code == 422
    slot = re.search(r'id="err-location-service_point_id"[^>]*>(.*?)</div>', r.text, re.S)
    assert slot is not None
    assert "GHOST is not accepted" in slot.group(1)


def test_submitting_shows_the_screening_in_words_and_numbers_then_the_list(
    acme: httpx.Client, service_points: list[str]
) -> None:
    r = acme.post("/portal/ders", data=form_of(service_points[0]))
    assert r.status_code == 303
    detail = acme.get(r.headers["location"])
    assert detail.status_code == 200
    text = detail.text
    assert "Screening: Approved" in text
    assert "Approved for 6.0 kW of export" in text
    for label in ("Bus", "Voltage before → after", "Voltage limit", "Loading before → after"):
        assert f'<th scope="row">{label}</th>' in text
    assert re.search(r"\d\.\d{4} → \d\.\d{4} pu", text)
    listing = acme.get("/portal/ders").text
    assert "My DER" in listing
    assert "WEB-1" in listing
    assert "provisioned" in listing
    assert "Lifecycle" not in listing  # no buttons for installers


def test_a_duplicate_application_is_shown_on_the_form(
    acme: httpx.Client, service_points: list[str]
) -> None:
    assert acme.post("/portal/ders", data=form_of(service_points[0])).status_code == 303
    again = acme.post("/portal/ders", data=form_of(service_points[1]))
    assert again.status_code == 422
    assert "WEB-1" in again.text
    assert "already registered" in again.text


def test_an_operator_sees_all_der_and_moves_them_through_the_lifecycle(
    web: Web, acme: httpx.Client, service_points: list[str]
) -> None:
    created = acme.post("/portal/ders", data=form_of(service_points[0]))
    der_id = created.headers["location"].rsplit("/", 1)[1]
    with login(web, "ops") as ops:
        listing = ops.get("/portal/ders").text
        assert "All DER" in listing
        assert f'action="/portal/ders/{der_id}/actions/activate"' in listing
        r = ops.post(f"/portal/ders/{der_id}/actions/activate")
        assert r.status_code == 303
        detail = ops.get(f"/portal/ders/{der_id}").text
        assert "badge s-active" in detail
        assert "from the portal" in detail  # in the audit trail
        assert f'action="/portal/ders/{der_id}/actions/suspend"' in detail
    refused = acme.post(f"/portal/ders/{der_id}/actions/suspend")
    assert refused.status_code == 403
    assert "Forbidden" in refused.text


def test_another_installers_der_is_not_found(
    web: Web, acme: httpx.Client, service_points: list[str]
) -> None:
    created = acme.post("/portal/ders", data=form_of(service_points[0]))
    with login(web, "bolt") as bolt:
        r = bolt.get(created.headers["location"])
        assert r.status_code == 404
        assert "Not found" in r.text


def test_logout_clears_the_cookie(acme: httpx.Client) -> None:
    r = acme.post("/logout")
    assert r.status_code == 303
    assert acme.get("/portal/ders").status_code == 303


def test_the_certificate_lfdi_is_a_form_field_checked_and_shown(
    acme: httpx.Client, service_points: list[str]
) -> None:
    page = acme.get("/portal/ders/new").text
    assert '<label for="f-device_lfdi">' in page
    bad = acme.post("/portal/ders", data=form_of(service_points[0], device_lfdi="12ab"))
    assert bad.status_code == 422
    slot = re.search(r'id="err-device_lfdi"[^>]*>(.*?)</div>', bad.text, re.S)
    assert slot is not None
    assert "12ab is not accepted: 40 hex digits" in slot.group(1)
    assert acme.get("/portal/ders").text.count('<tr id="row-') == 0
    lfdi = "3e4f45ab31edfe5b67e343e5e4562e31984e23e5"
    r = acme.post("/portal/ders", data=form_of(service_points[0], device_lfdi=lfdi))
    assert r.status_code == 303
    assert f"certificate LFDI <code>{lfdi.upper()}</code>" in acme.get(r.headers["location"]).text
