"""The REST API of DER (``/api/v1/ders``) against a real server, over every store: status
codes, headers, roles, problem+json with issues naming object, field and value, conflicts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.web.conftest import Web

Body = Callable[..., dict[str, Any]]
PROBLEM = "application/problem+json"


def register(web: Web, who: str, body: dict[str, Any]) -> dict[str, Any]:
    r = web.client.post("/api/v1/ders", json=body, headers=web.auth(who))
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def total(web: Web, who: str = "ops") -> int:
    r = web.client.get("/api/v1/ders", headers=web.auth(who))
    assert r.status_code == 200, r.text
    n: int = r.json()["total"]
    return n


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic YTpi"}],
    ids=["none", "unknown", "not-bearer"],
)
def test_without_a_valid_token_is_401_problem(web: Web, headers: dict[str, str]) -> None:
    r = web.client.get("/api/v1/ders", headers=headers)
    assert r.status_code == 401
    assert r.headers["content-type"] == PROBLEM
    assert r.headers["www-authenticate"] == "Bearer"
    body = r.json()
    assert body["status"] == 401
    assert body["type"] == "urn:openderms:problem:not-authenticated"
    assert body["instance"] == "/api/v1/ders"


def test_register_is_201_with_location_etag_and_screening_numbers(
    any_web: Web, registration: Body
) -> None:
    r = any_web.client.post("/api/v1/ders", json=registration(), headers=any_web.auth("acme"))
    assert r.status_code == 201, r.text
    der = r.json()
    assert r.headers["location"] == f"/api/v1/ders/{der['id']}" == der["href"]
    assert r.headers["etag"] == '"1"'
    assert der["installer_id"] == "acme"
    assert der["status"] == "provisioned"
    s = der["screening"]
    assert s["decision"] == "approve"
    assert s["bus_id"]
    assert s["requested_kw"] == 5.0
    assert s["v_limit_pu"] == pytest.approx(1.05)
    assert s["v_worst_after_pu"] >= s["v_worst_before_pu"] > 0.9
    assert s["v_rise_pu"] == pytest.approx(s["v_worst_after_pu"] - s["v_worst_before_pu"])
    assert s["loading_added_pct"] == pytest.approx(s["loading_after_pct"] - s["loading_before_pct"])
    assert f"bus {s['bus_id']}" in s["summary"]
    assert der["provisioning"]["topology_node_id"] == s["topology_node_id"]
    assert [a["action"] for a in der["audit"]][:2] == ["submit", "screen"]
    again = any_web.client.get(r.headers["location"], headers=any_web.auth("acme"))
    assert again.status_code == 200
    assert again.json() == der


def test_bad_registration_is_422_naming_object_field_value_and_nothing_is_stored(
    any_web: Web, registration: Body
) -> None:
    body = registration(owner_email="not-an-email")
    body["nameplate"] = {"p_export_kw": "lots", "s_kva": -3}
    r = any_web.client.post("/api/v1/ders", json=body, headers=any_web.auth("acme"))
    assert r.status_code == 422
    assert r.headers["content-type"] == PROBLEM
    problem = r.json()
    assert problem["type"] == "urn:openderms:problem:validation"
    issues = {i["field"]: i for i in problem["issues"]}
    assert set(issues) == {"nameplate.p_export_kw", "nameplate.s_kva", "owner_email"}
    assert issues["nameplate.p_export_kw"] == {
        "object": "registration",
        "id": "(new)",
        "field": "nameplate.p_export_kw",
        "value": "lots",
        "expected": issues["nameplate.p_export_kw"]["expected"],
    }
    assert "number" in issues["nameplate.p_export_kw"]["expected"]
    assert issues["nameplate.s_kva"]["value"] == -3
    assert "greater than 0" in issues["nameplate.s_kva"]["expected"]
    assert total(any_web) == 0


def test_unknown_service_point_is_422_on_the_location_field(web: Web, registration: Body) -> None:
    body = registration(location={"service_point_id": "NO_SUCH_METER"})
    r = web.client.post("/api/v1/ders", json=body, headers=web.auth("acme"))
    assert r.status_code == 422
    [issue] = r.json()["issues"]
    assert issue["field"] == "location.service_point_id"
    assert issue["value"] == "NO_SUCH_METER"
    assert "service point" in issue["expected"]


def test_body_that_is_not_json_is_422(web: Web) -> None:
    r = web.client.post(
        "/api/v1/ders",
        content=b"{not json",
        headers={**web.auth("acme"), "content-type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json()["issues"][0]["expected"] == "a JSON object"


def test_an_installer_sees_only_its_own(any_web: Web, registration: Body) -> None:
    mine = register(any_web, "acme", registration("APP-A"))
    theirs = register(any_web, "bolt", registration("APP-B", sp=1))
    page = any_web.client.get("/api/v1/ders", headers=any_web.auth("acme")).json()
    assert [d["id"] for d in page["items"]] == [mine["id"]]
    assert page["total"] == 1
    r = any_web.client.get(f"/api/v1/ders/{theirs['id']}", headers=any_web.auth("acme"))
    assert r.status_code == 404
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["type"] == "urn:openderms:problem:not-found"
    assert total(any_web, "ops") == 2


def test_an_aggregator_sees_the_der_that_name_it(web: Web, registration: Body) -> None:
    via = registration("APP-V", comm_path="aggregator", aggregator_id="agg")
    named = register(web, "acme", via)
    register(web, "acme", registration("APP-D", sp=1))
    page = web.client.get("/api/v1/ders", headers=web.auth("agg")).json()
    assert [d["id"] for d in page["items"]] == [named["id"]]


def test_list_filters_by_status_and_feeder_and_pages(web: Web, registration: Body) -> None:
    ids = [register(web, "acme", registration(f"APP-{n}", sp=n))["id"] for n in range(5)]
    web.client.post(f"/api/v1/ders/{ids[0]}/actions/activate", headers=web.auth("ops"))
    auth = web.auth("ops")
    active = web.client.get("/api/v1/ders", params={"status": "active"}, headers=auth).json()
    assert [d["id"] for d in active["items"]] == [ids[0]]
    page = web.client.get("/api/v1/ders", params={"offset": 1, "limit": 2}, headers=auth).json()
    assert (page["total"], page["offset"], page["limit"]) == (5, 1, 2)
    assert [d["id"] for d in page["items"]] == sorted(ids)[1:3]
    feeder = page["items"][0]["screening"]["feeder_id"]
    on = web.client.get("/api/v1/ders", params={"feeder": feeder}, headers=auth).json()
    assert on["total"] >= 1
    assert all(d["screening"]["feeder_id"] == feeder for d in on["items"])
    none = web.client.get("/api/v1/ders", params={"feeder": "NOPE"}, headers=auth).json()
    assert none["total"] == 0


def test_bad_query_parameters_are_422_naming_them(web: Web) -> None:
    params = {"status": "sleeping", "limit": 0}
    r = web.client.get("/api/v1/ders", params=params, headers=web.auth("ops"))
    assert r.status_code == 422
    fields = {i["field"]: i for i in r.json()["issues"]}
    assert set(fields) == {"query.status", "query.limit"}
    assert fields["query.status"]["value"] == "sleeping"
    assert fields["query.limit"]["object"] == "request"


def test_update_needs_the_current_version(any_web: Web, registration: Body) -> None:
    der = register(any_web, "acme", registration("APP-U"))
    url, auth = der["href"], any_web.auth("ops")
    changed = registration("APP-U", kw=6.0)
    assert any_web.client.put(url, json=changed, headers=auth).status_code == 428
    r = any_web.client.put(url, json=changed, headers={**auth, "If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    assert r.headers["etag"] == '"2"'
    assert r.json()["registration"]["nameplate"]["p_export_kw"] == 6.0
    stale = any_web.client.put(url, json=changed, headers={**auth, "If-Match": '"1"'})
    assert stale.status_code == 409
    assert stale.headers["content-type"] == PROBLEM
    assert stale.json()["type"] == "urn:openderms:problem:conflict"


def test_update_with_bad_fields_names_the_der(web: Web, registration: Body) -> None:
    der = register(web, "acme", registration("APP-X"))
    bad = registration("APP-X", der_type="windmill")
    headers = {**web.auth("ops"), "If-Match": "1"}
    r = web.client.put(der["href"], json=bad, headers=headers)
    assert r.status_code == 422
    [issue] = r.json()["issues"]
    assert (issue["id"], issue["field"], issue["value"]) == (der["id"], "der_type", "windmill")


def test_an_installer_may_not_change_a_provisioned_der(web: Web, registration: Body) -> None:
    der = register(web, "acme", registration("APP-P"))
    headers = {**web.auth("acme"), "If-Match": '"1"'}
    r = web.client.put(der["href"], json=registration("APP-P", kw=4.0), headers=headers)
    assert r.status_code == 409
    assert r.json()["type"] == "urn:openderms:problem:lifecycle"
    assert "provisioned" in r.json()["detail"]


def test_someone_elses_der_is_404_for_update_and_actions(web: Web, registration: Body) -> None:
    der = register(web, "acme", registration("APP-O"))
    headers = {**web.auth("bolt"), "If-Match": '"1"'}
    assert (
        web.client.put(der["href"], json=registration("APP-O"), headers=headers).status_code == 404
    )
    r = web.client.post(f"{der['href']}/actions/decommission", headers=web.auth("bolt"))
    assert r.status_code == 404


def test_duplicate_application_id_is_409(any_web: Web, registration: Body) -> None:
    register(any_web, "acme", registration("APP-D"))
    r = any_web.client.post(
        "/api/v1/ders", json=registration("APP-D", sp=1), headers=any_web.auth("acme")
    )
    assert r.status_code == 409
    assert r.json()["type"] == "urn:openderms:problem:conflict"
    assert total(any_web) == 1


def test_lifecycle_actions_roles_and_409(any_web: Web, registration: Body) -> None:
    der = register(any_web, "acme", registration("APP-L"))
    url = f"{der['href']}/actions"
    denied = any_web.client.post(f"{url}/activate", headers=any_web.auth("acme"))
    assert denied.status_code == 403
    assert denied.json()["type"] == "urn:openderms:problem:forbidden"
    r = any_web.client.post(
        f"{url}/activate", json={"detail": "commissioned"}, headers=any_web.auth("ops")
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active"
    assert r.json()["audit"][-1]["detail"] == "commissioned"
    again = any_web.client.post(f"{url}/provision", headers=any_web.auth("ops"))
    assert again.status_code == 409
    assert again.json()["type"] == "urn:openderms:problem:lifecycle"
    unknown = any_web.client.post(f"{url}/explode", headers=any_web.auth("ops"))
    assert unknown.status_code == 422
    assert unknown.json()["issues"][0]["field"] == "path.action"


def test_a_der_too_big_for_its_bus_is_limited_or_refused_with_the_reason(
    web: Web, registration: Body
) -> None:
    der = register(web, "acme", registration("APP-BIG", kw=5000.0))
    s = der["screening"]
    assert s["decision"] in {"approve_with_limit", "reject"}
    assert s["hosting_capacity_kw"] < 5000.0
    assert s["reason"]
    assert s["binding_constraint"] in s["summary"]
    if s["decision"] == "approve_with_limit":
        assert 0 < s["export_limit_kw"] < 5000.0
        assert der["status"] == "provisioned"
    else:
        assert der["status"] == "rejected"
