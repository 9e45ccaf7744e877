"""Bulk import over the API (``POST /api/v1/ders/bulk``): a CSV as ``text/csv`` or a
multipart upload; all or nothing, with every bad row named."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from openderms.registry.csv_import import to_csv
from openderms.registry.domain import Registration
from tests.web.conftest import Web

Body = Callable[..., dict[str, Any]]


def csv_of(registration: Body, n: int) -> str:
    regs = [Registration.model_validate(registration(f"BULK-{i}", sp=i)) for i in range(n)]
    return to_csv(regs)


def total(web: Web) -> int:
    n: int = web.client.get("/api/v1/ders", headers=web.auth("ops")).json()["total"]
    return n


@pytest.mark.parametrize("as_upload", [False, True], ids=["text-csv", "multipart"])
def test_bulk_registers_every_row_and_counts_decisions(
    any_web: Web, registration: Body, as_upload: bool
) -> None:
    text = csv_of(registration, 6)
    auth = any_web.auth("acme")
    if as_upload:
        files = {"file": ("ders.csv", text.encode(), "text/csv")}
        r = any_web.client.post("/api/v1/ders/bulk", files=files, headers=auth)
    else:
        headers = {**auth, "content-type": "text/csv"}
        r = any_web.client.post("/api/v1/ders/bulk", content=text.encode(), headers=headers)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["created"] == 6
    assert sum(out["decisions"].values()) == 6
    assert [i["application_id"] for i in out["items"]] == [f"BULK-{i}" for i in range(6)]
    assert all(i["href"].startswith("/api/v1/ders/") for i in out["items"])
    assert total(any_web) == 6


def test_bulk_with_bad_rows_imports_nothing_and_names_every_bad_row(
    any_web: Web, registration: Body
) -> None:
    lines = csv_of(registration, 5).splitlines()
    header = lines[0].split(",")
    col = {name: i for i, name in enumerate(header)}

    def spoil(line: str, column: str, value: str) -> str:
        cells = line.split(",")
        cells[col[column]] = value
        return ",".join(cells)

    lines[2] = spoil(lines[2], "p_export_kw", "many")  # row 3
    lines[4] = spoil(lines[4], "owner_email", "nobody")  # row 5
    lines[5] = spoil(lines[5], "der_type", "windmill")  # row 6
    headers = {**any_web.auth("acme"), "content-type": "text/csv"}
    body = ("\n".join(lines) + "\n").encode()
    r = any_web.client.post("/api/v1/ders/bulk", content=body, headers=headers)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    issues = r.json()["issues"]
    found = {(i["id"], i["value"]) for i in issues}
    assert found == {("row 3", "many"), ("row 5", "nobody"), ("row 6", "windmill")}
    assert all(i["field"] and i["expected"] for i in issues)
    assert total(any_web) == 0


def test_bulk_with_unknown_locations_names_each_and_imports_nothing(
    web: Web, registration: Body
) -> None:
    regs = [
        Registration.model_validate(registration("B-0", sp=0)),
        Registration.model_validate(registration("B-1", location={"service_point_id": "GHOST-1"})),
        Registration.model_validate(registration("B-2", location={"service_point_id": "GHOST-2"})),
    ]
    headers = {**web.auth("acme"), "content-type": "text/csv"}
    r = web.client.post("/api/v1/ders/bulk", content=to_csv(regs).encode(), headers=headers)
    assert r.status_code == 422
    values = sorted(i["value"] for i in r.json()["issues"])
    assert values == ["GHOST-1", "GHOST-2"]
    assert total(web) == 0


def test_bulk_multipart_without_a_file_part_is_422(web: Web) -> None:
    r = web.client.post(
        "/api/v1/ders/bulk", data={"other": "x"}, files={"x": ("a", b"")}, headers=web.auth("acme")
    )
    assert r.status_code == 422
    assert r.json()["issues"][0]["field"] == "file"
