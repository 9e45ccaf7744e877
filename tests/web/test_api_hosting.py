"""``/api/v1/hosting-capacity`` and the API's self-description (OpenAPI, /docs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.web.conftest import Web


def test_hosting_capacity_at_a_service_point(web: Web, service_points: list[str]) -> None:
    r = web.client.get(
        "/api/v1/hosting-capacity",
        params={"service_point_id": service_points[0]},
        headers=web.auth("acme"),
    )
    assert r.status_code == 200, r.text
    h = r.json()
    assert h["bus_id"]
    assert h["energised"] is True
    assert h["export_capacity_kw"] > 0
    assert h["export_binding"]
    assert h["import_capacity_kw"] >= 0
    assert f"bus {h['bus_id']}" in h["summary"]


def test_hosting_capacity_shrinks_after_a_grant(
    web: Web, service_points: list[str], registration: Callable[..., dict[str, Any]]
) -> None:
    params = {"service_point_id": service_points[0]}
    before = web.client.get("/api/v1/hosting-capacity", params=params, headers=web.auth("ops"))
    r = web.client.post("/api/v1/ders", json=registration(kw=10.0), headers=web.auth("acme"))
    assert r.json()["screening"]["decision"] == "approve"
    after = web.client.get("/api/v1/hosting-capacity", params=params, headers=web.auth("ops"))
    assert after.json()["export_capacity_kw"] < before.json()["export_capacity_kw"]


def test_hosting_capacity_without_a_location_is_422(web: Web) -> None:
    r = web.client.get("/api/v1/hosting-capacity", headers=web.auth("acme"))
    assert r.status_code == 422
    [issue] = r.json()["issues"]
    assert issue["object"] == "location"
    assert "service_point_id" in issue["expected"]


def test_hosting_capacity_at_an_unknown_bus_names_it(web: Web) -> None:
    r = web.client.get(
        "/api/v1/hosting-capacity", params={"bus_id": "NOWHERE"}, headers=web.auth("acme")
    )
    assert r.status_code == 422
    [issue] = r.json()["issues"]
    assert (issue["field"], issue["value"]) == ("location.bus_id", "NOWHERE")


def test_hosting_capacity_needs_a_token(web: Web) -> None:
    r = web.client.get("/api/v1/hosting-capacity", params={"bus_id": "x"})
    assert r.status_code == 401


def test_openapi_documents_every_endpoint_and_its_bodies(web: Web) -> None:
    spec = web.client.get("/openapi.json").json()
    paths = spec["paths"]
    assert set(paths) >= {
        "/api/v1/ders",
        "/api/v1/ders/bulk",
        "/api/v1/ders/{der_id}",
        "/api/v1/ders/{der_id}/actions/{action}",
        "/api/v1/hosting-capacity",
    }
    schemas = spec["components"]["schemas"]
    body = paths["/api/v1/ders"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["$ref"].removeprefix("#/components/schemas/") in schemas
    assert "text/csv" in paths["/api/v1/ders/bulk"]["post"]["requestBody"]["content"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert not any(p.startswith("/portal") for p in paths)
    docs = web.client.get("/docs")
    assert docs.status_code == 200
    assert "/static/swagger/swagger-ui-bundle.js" in docs.text
    assert "https://" not in docs.text  # no CDN
    assert web.client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200


def test_unknown_api_path_is_a_problem(web: Web) -> None:
    r = web.client.get("/api/v1/nothing-here", headers=web.auth("ops"))
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
