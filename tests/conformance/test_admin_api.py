"""The 2030.5 admin API that cactus-client's admin plugin (conformance/plugin) calls: each
procedure set-up step through the internal API, and nothing without the token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.types import ASGIApp

from openderms.errors import PermissionDeniedError
from openderms.protocols.ieee2030_5.api.admin import create_admin_app
from openderms.protocols.ieee2030_5.domain import Page
from openderms.protocols.ieee2030_5.security.identity import ClientIdentity
from openderms.protocols.ieee2030_5.services import Ieee2030_5Services, build_services
from openderms.store import open_store

TOKEN = "s3cret"
DEVICE_LFDI = "3e4f45ab31edfe5b67e343e5e4562e31984e23e5"
AGG_LFDI = "0123456789abcdef0123456789abcdef01234567"
DER_LFDI = "76543210fedcba9876543210fedcba9876543210"


class AdminClient:
    """POSTs to the app in process (httpx over ASGI, one event loop per request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def post(
        self, path: str, *, json: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://admin") as c:
                return await c.post(path, json=json, headers=headers)

        return anyio.run(go)


@pytest.fixture
def admin(tmp_path: Path) -> Iterator[tuple[AdminClient, Ieee2030_5Services]]:
    store = open_store(f"sqlite:///{tmp_path / 'sep.db'}")
    services = build_services(store.engine, pen=12345)
    yield AdminClient(create_admin_app(services, TOKEN)), services
    services.close()
    store.close()


def post(client: AdminClient, kind: str, params: dict[str, Any], **body: Any) -> Any:
    payload = {"lfdi": DEVICE_LFDI, "client_type": "device", "pin": 111115, **body}
    return client.post(
        f"/admin/{kind}",
        json={**payload, "parameters": params},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )


def test_admin_needs_the_token(admin: tuple[AdminClient, Ieee2030_5Services]) -> None:
    client, services = admin
    r = client.post("/admin/ensure-end-device", json={"lfdi": DEVICE_LFDI})
    assert r.status_code == 401
    r = client.post(
        "/admin/ensure-end-device",
        json={"lfdi": DEVICE_LFDI, "parameters": {"registered": True}},
        headers={"Authorization": "Bearer wrong"},
    )
    assert r.status_code == 401
    me = services.end_devices.client(ClientIdentity.from_lfdi(DEVICE_LFDI))
    assert services.end_devices.page(me, Page(start=0, after=0, limit=10))[1] == 0


def test_admin_sets_up_a_device_its_program_and_controls(
    admin: tuple[AdminClient, Ieee2030_5Services],
) -> None:
    client, services = admin
    assert post(client, "ensure-end-device", {"registered": False}).status_code == 200
    r = post(client, "ensure-end-device", {"registered": True, "has_der_list": True})
    assert r.status_code == 200
    device_id = r.json()["end_device_id"]
    assert post(client, "ensure-end-device", {"registered": False}).status_code == 409
    assert post(client, "ensure-fsa", {"annotation": "fsa1"}).status_code == 200
    assert post(client, "ensure-der-program", {"fsa_annotation": "fsa1"}).status_code == 200
    assert post(client, "ensure-der-control-list", {}).status_code == 200
    assert post(client, "ensure-mup-list-empty", {}).status_code == 200
    r = post(client, "create-der-control", {"status": "active", "opModEnergize": False})
    assert r.status_code == 200
    r = post(client, "create-der-control", {"status": "scheduled", "opModConnect": True})
    assert r.status_code == 200
    program = services.programs.device_program(device_id)
    assert len(services.programs.program_controls(program.id)) == 2
    assert post(client, "create-default-der-control", {"setGradW": 100}).status_code == 200
    default = services.programs.program_default(program.id)
    assert default.set_grad_w == 100
    assert default.mrid.endswith(f"{12345:08X}")  # the server's PEN, as every mRID it makes
    assert post(client, "clear-der-controls", {"all": True}).json()["cancelled"] == 2
    assert post(client, "set-poll-rate", {"resource": "EndDeviceList", "rate_seconds": 60})
    assert services.server.poll_rate_of("EndDeviceList") == 60
    assert services.server.poll_rate_of("DeviceCapability") == services.server.poll_rate_s
    assert post(client, "set-post-rate", {"resource": "MirrorUsagePoint", "rate_seconds": 120})
    assert services.server.post_rate_s == 120


def test_admin_refuses_what_it_does_not_serve(
    admin: tuple[AdminClient, Ieee2030_5Services],
) -> None:
    client, _ = admin
    r = post(client, "create-der-control", {"status": "active", "opModExpLimW": "lots"})
    assert r.status_code == 400
    assert post(client, "no-such-step", {}).status_code == 404
    assert post(client, "set-client-access", {"granted": "no"}).status_code == 400


def test_admin_revokes_and_restores_a_certificates_access(
    admin: tuple[AdminClient, Ieee2030_5Services],
) -> None:
    client, services = admin
    me = ClientIdentity.from_lfdi(DEVICE_LFDI)
    assert post(client, "ensure-end-device", {"registered": True}).status_code == 200
    assert post(client, "set-client-access", {"granted": False}).status_code == 200
    assert services.end_devices.access_granted(me) is False
    with pytest.raises(PermissionDeniedError):
        services.end_devices.client(me)
    assert post(client, "set-client-access", {"granted": True}).status_code == 200
    assert services.end_devices.client(me).kind == "device"


def test_admin_maps_an_aggregators_der_to_it(
    admin: tuple[AdminClient, Ieee2030_5Services],
) -> None:
    client, services = admin
    r = post(
        client,
        "ensure-end-device",
        {"registered": True},
        lfdi=DER_LFDI,
        certificate_lfdi=AGG_LFDI,
        client_type="aggregator",
    )
    assert r.status_code == 200
    aggregator = services.end_devices.client(ClientIdentity.from_lfdi(AGG_LFDI))
    assert aggregator.kind == "aggregator"
    devices, _ = services.end_devices.page(aggregator, Page(start=0, after=0, limit=10))
    assert [d.lfdi for d in devices] == [DER_LFDI]


def test_admin_stacks_scheduled_controls_after_the_live_ones_only(
    admin: tuple[AdminClient, Ieee2030_5Services],
) -> None:
    """Scheduled controls without an offset are stacked one after another (300 s each by
    default); a cancelled one holds no window, so the next starts at its own offset."""
    client, services = admin
    device_id = post(client, "ensure-end-device", {"registered": True}).json()["end_device_id"]
    program = services.programs.device_program(device_id)
    for _ in range(2):
        assert (
            post(
                client, "create-der-control", {"status": "scheduled", "opModExpLimW": 0}
            ).status_code
            == 200
        )
    first, second = services.programs.program_controls(program.id)
    assert second.start == first.end()
    assert first.duration_s == 300
    assert post(client, "clear-der-controls", {"all": True}).json()["cancelled"] == 2
    r = post(client, "create-der-control", {"status": "scheduled", "opModExpLimW": 0})
    (third,) = [
        c for c in services.programs.program_controls(program.id) if c.mrid == r.json()["mrid"]
    ]
    assert third.start < second.start  # not pushed past the cancelled ones
