"""The portal in a real browser: Playwright driving Debian's chromium against a real uvicorn
server on loopback. Screenshots are kept under ``out/test-artefacts/portal/``.

The browser is ``/usr/bin/chromium`` (``scripts/ensure-chromium.sh``, a prerequisite of
``make test``); without it these tests fail, they never skip.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.web.conftest import Web

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTEFACTS = Path(__file__).resolve().parents[2] / "out" / "test-artefacts" / "portal"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh", pytrace=False)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    p = context.new_page()
    yield p
    context.close()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)


def log_in(page: Page, web: Web, who: str, start: str = "/portal/ders") -> None:
    base = str(web.client.base_url)
    page.goto(base + start)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Access token").fill(web.tokens[who])
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(base + start)


def test_an_installer_registers_a_der_and_sees_it_screened(
    web: Web, page: Page, service_points: list[str]
) -> None:
    base = str(web.client.base_url)
    page.goto(base + "/portal/ders")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    shot(page, "01-login")
    log_in(page, web, "acme")
    expect(page.get_by_role("heading", name="My DER")).to_be_visible()

    page.get_by_role("link", name="Register a DER").click()
    expect(page.get_by_role("heading", name="Register a DER")).to_be_visible()
    page.get_by_label("Type").select_option("pv")
    page.get_by_label("Inverter rating (kVA)").fill("8")
    page.get_by_label("Inverter make").fill("SunCo")
    page.get_by_label("Inverter model").fill("S-7")
    page.get_by_label("UL1741SB").check()
    page.get_by_label("Service point (meter) id").fill(service_points[2])
    page.get_by_label("Owner name").fill("Ada Owner")
    page.get_by_label("Owner e-mail").fill("ada@example.org")
    page.get_by_label("Interconnection application id").fill("BROWSER-1")

    # a bad value: the message appears next to the field, from the server's issue
    export = page.get_by_label("Export rating (kW AC)")
    export.fill("-4")
    export.press("Tab")
    message = page.locator("#err-nameplate-p_export_kw")
    expect(message).to_contain_text("-4 is not accepted")
    expect(message).to_contain_text("greater than or equal to 0")
    expect(export).to_have_attribute("aria-describedby", re.compile("err-nameplate-p_export_kw"))
    expect(page.locator("#hosting-hint")).to_contain_text("kW more export")
    shot(page, "02-inline-validation")

    # more than the inverter can give: the group's message
    export.fill("9")
    export.press("Tab")
    expect(page.locator("#err-nameplate")).to_contain_text("exceeds s_kva")
    expect(message).to_be_empty()

    export.fill("6")
    export.press("Tab")
    expect(page.locator("#err-nameplate")).to_be_empty()
    expect(page.locator("#form-status")).to_contain_text("Looks complete")
    shot(page, "03-form-valid")

    page.get_by_role("button", name="Register and screen").click()
    expect(page).to_have_url(re.compile(r"/portal/ders/der-\d+$"))
    screening = page.locator("#screening")
    expect(screening.get_by_role("heading")).to_contain_text("Screening:")
    expect(screening).to_contain_text("6.0 kW")
    numbers = page.get_by_role("table", name="Screening numbers")
    expect(numbers.get_by_role("row", name=re.compile("^Bus"))).to_contain_text("_")
    expect(numbers.get_by_role("row", name=re.compile("Voltage before"))).to_contain_text(
        re.compile(r"\d\.\d{4} → \d\.\d{4} pu")
    )
    expect(numbers.get_by_role("row", name=re.compile("Voltage limit"))).to_contain_text("1.050 pu")
    expect(numbers.get_by_role("row", name=re.compile("Loading before"))).to_contain_text("%")
    expect(numbers.get_by_role("row", name=re.compile("Reason"))).not_to_be_empty()
    shot(page, "04-screening-result")
    der_url = page.url

    page.get_by_role("link", name="My DER").click()
    row = page.get_by_role("row", name=re.compile("BROWSER-1"))
    expect(row).to_be_visible()
    expect(row).to_contain_text(re.compile("provisioned|rejected"))
    expect(row.get_by_role("link")).to_have_attribute("href", der_url.removeprefix(base))
    shot(page, "05-my-der")


def test_an_operator_activates_a_der_from_the_list(
    web: Web, page: Page, service_points: list[str]
) -> None:
    r = web.client.post(
        "/api/v1/ders",
        headers=web.auth("acme"),
        json={
            "der_type": "battery",
            "nameplate": {"p_export_kw": 5, "s_kva": 6, "p_import_kw": 5, "e_kwh": 13.5},
            "inverter": {"make": "BattCo", "model": "B-13"},
            "location": {"service_point_id": service_points[3]},
            "owner_name": "Bo Owner",
            "owner_email": "bo@example.org",
            "application_id": "OPS-1",
        },
    )
    assert r.status_code == 201, r.text
    der_id = r.json()["id"]
    assert r.json()["status"] == "provisioned", r.json()["screening"]
    log_in(page, web, "ops")
    expect(page.get_by_role("heading", name="All DER")).to_be_visible()
    row = page.locator(f"#row-{der_id}")
    expect(row).to_contain_text("provisioned")
    expect(row).to_contain_text("acme")
    shot(page, "06-operator-list")
    row.get_by_role("button", name=f"activate {der_id}").click()
    expect(page).to_have_url(re.compile(f"/portal/ders/{der_id}$"))
    expect(page.locator("h1 .badge")).to_have_text("active")
    expect(page.get_by_role("table").last).to_contain_text("from the portal")
    shot(page, "07-operator-activated")
