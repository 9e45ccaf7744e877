"""``/api/v1/grid/switches``: the operator's switch command to a live grid, and its errors
(503 without a live grid, 401/403 for callers other than an operator, 404 naming an unknown
switch, 422 naming a bad field); a refused command reaches no bus. The same for planned
switching orders (``/api/v1/grid/switching-orders``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from openderms.services.control_loop.orders import check_order, order_payload
from tests.web.conftest import Web


class RecordingGrid:
    """A live grid that records the switch states it is asked to report."""

    substation_id = "sub1"

    def __init__(self) -> None:
        self.states = {"F1_CB": True, "TIE_F1_F2": False}
        self.reported: list[tuple[str, bool]] = []
        self.ordered: list[dict[str, Any]] = []

    def switch_states(self) -> dict[str, bool]:
        return dict(self.states)

    async def report_switch(self, switch_id: str, closed: bool) -> None:
        self.reported.append((switch_id, closed))

    async def order_switching(
        self, order_id: str, switch_id: str, closed: bool, start: datetime, end: datetime | None
    ) -> dict[str, Any]:
        """Checked as the live grid checks it (the control loop's ``check_order``)."""
        order = check_order(order_id, switch_id, closed, start, end, switch_ids=self.states)
        self.ordered.append(order_payload(order))
        return self.ordered[-1]


@pytest.fixture
def grid(web: Web) -> RecordingGrid:
    g = RecordingGrid()
    web.app.state.live_switching = g
    return g


def test_an_operator_opens_a_switch(web: Web, grid: RecordingGrid) -> None:
    r = web.client.post(
        "/api/v1/grid/switches/F1_CB", json={"closed": False}, headers=web.auth("ops")
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["switch_id"], body["closed"], body["substation_id"]) == ("F1_CB", False, "sub1")
    assert grid.reported == [("F1_CB", False)]
    listed = web.client.get("/api/v1/grid/switches", headers=web.auth("ops")).json()
    assert {s["switch_id"]: s["closed"] for s in listed} == grid.states


def test_an_unknown_switch_is_a_404_naming_it(web: Web, grid: RecordingGrid) -> None:
    r = web.client.post(
        "/api/v1/grid/switches/NO_SUCH", json={"closed": False}, headers=web.auth("ops")
    )
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert "NO_SUCH" in r.json()["detail"]
    assert grid.reported == []


@pytest.mark.parametrize(
    ("body", "value"),
    [({"closed": "no"}, "no"), ({"closed": 0}, 0), ({}, None)],
)
def test_a_bad_body_is_a_422_naming_the_field(
    web: Web, grid: RecordingGrid, body: dict[str, object], value: object
) -> None:
    r = web.client.post("/api/v1/grid/switches/F1_CB", json=body, headers=web.auth("ops"))
    assert r.status_code == 422
    issues = r.json()["issues"]
    assert [i["field"] for i in issues] == ["body.closed"]
    if value is not None:
        assert issues[0]["value"] == value
    assert grid.reported == []


def test_only_an_operator_may_switch(web: Web, grid: RecordingGrid) -> None:
    r = web.client.post(
        "/api/v1/grid/switches/F1_CB", json={"closed": False}, headers=web.auth("acme")
    )
    assert r.status_code == 403
    r = web.client.post("/api/v1/grid/switches/F1_CB", json={"closed": False})
    assert r.status_code == 401
    assert grid.reported == []


def test_without_a_live_grid_the_endpoint_says_so(web: Web) -> None:
    r = web.client.post(
        "/api/v1/grid/switches/F1_CB", json={"closed": False}, headers=web.auth("ops")
    )
    assert r.status_code == 503
    assert "openderms run" in r.json()["detail"]


START = datetime(2026, 7, 15, 19, 0, tzinfo=UTC)


def test_an_operator_plans_a_switching_order(web: Web, grid: RecordingGrid) -> None:
    body = {
        "switch_id": "TIE_F1_F2",
        "closed": True,
        "start": START.isoformat(),
        "end": (START + timedelta(hours=2)).isoformat(),
    }
    r = web.client.post("/api/v1/grid/switching-orders", json=body, headers=web.auth("ops"))
    assert r.status_code == 202, r.text
    out = r.json()
    assert out["order_id"].startswith("order-")
    assert out["substation_id"] == "sub1"
    assert grid.ordered == [
        {
            "order_id": out["order_id"],
            "switch_id": "TIE_F1_F2",
            "closed": True,
            "start": "2026-07-15T19:00:00+00:00",
            "end": "2026-07-15T21:00:00+00:00",
        }
    ]


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"end": (START - timedelta(minutes=1)).isoformat()}, 422, "end"),
        ({"start": "2026-07-15T19:00:00"}, 422, "body.start"),  # no UTC offset
        ({"closed": "yes"}, 422, "body.closed"),
        ({"switch_id": "NO_SUCH"}, 404, None),
    ],
)
def test_a_bad_order_is_refused_naming_what_is_wrong(
    web: Web, grid: RecordingGrid, change: dict[str, object], status: int, field: str | None
) -> None:
    body = {"switch_id": "F1_CB", "closed": False, "start": START.isoformat(), **change}
    r = web.client.post("/api/v1/grid/switching-orders", json=body, headers=web.auth("ops"))
    assert r.status_code == status, r.text
    if field is None:
        assert "NO_SUCH" in r.json()["detail"]
    else:
        assert [i["field"] for i in r.json()["issues"]] == [field]
    assert grid.ordered == []
