"""The served app (default wiring) publishes registry events on the configured message bus:
registering a DER through the API is seen by an independent subscriber on real NATS."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import httpx

from openderms.bus import open_bus
from openderms.config import Settings
from openderms.web.app import create_app
from tests.web.server import serve_in_thread

NATS_URL = os.environ.get("OPENDERMS_TEST_NATS_URL", "nats://127.0.0.1:4222")


def test_registering_a_der_publishes_its_events_on_nats(tmp_path: Path) -> None:
    namespace = f"t{uuid.uuid4().hex[:10]}"
    bus_url = f"{NATS_URL}?namespace={namespace}"
    settings = Settings(
        workspace=tmp_path,
        network_preset="small",
        bus_url=bus_url,
        bootstrap_operator_token="op-token",
    )

    async def listen(seen: list[str], ready: asyncio.Event, done: asyncio.Event) -> None:
        bus = await open_bus(bus_url)
        try:

            async def handler(msg: object) -> None:
                seen.append(msg.subject)  # type: ignore[attr-defined]
                if msg.subject.endswith("provisioned"):  # type: ignore[attr-defined]
                    done.set()

            await bus.subscribe("registry.der.>", handler, deliver="all")
            ready.set()
            await asyncio.wait_for(done.wait(), timeout=60)
        finally:
            await bus.delete_streams()  # type: ignore[attr-defined]
            await bus.close()

    async def scenario() -> list[str]:
        seen: list[str] = []
        ready, done = asyncio.Event(), asyncio.Event()
        listener = asyncio.create_task(listen(seen, ready, done))
        await ready.wait()
        app = create_app(settings)

        def register() -> int:
            with serve_in_thread(app, startup_timeout_s=120) as base:
                body = {
                    "der_type": "pv",
                    "nameplate": {"p_export_kw": 5.0, "s_kva": 6.0},
                    "inverter": {"make": "SunCo", "model": "S-5"},
                    "location": {"bus_id": "F1_L03_01_LV"},
                    "owner_name": "Ada",
                    "owner_email": "ada@example.org",
                    "application_id": "BUS-1",
                }
                headers = {"Authorization": "Bearer op-token"}
                r = httpx.post(f"{base}/api/v1/ders", json=body, headers=headers, timeout=60)
                return r.status_code

        status = await asyncio.to_thread(register)
        assert status == 201
        await listener
        return seen

    seen = asyncio.run(scenario())
    assert seen[0] == "registry.der.screened"
    assert "registry.der.provisioned" in seen
