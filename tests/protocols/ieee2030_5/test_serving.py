"""COMM procedure, server side: the client identity comes from the TLS connection, resolved
once per connection (no certificate parsing per request)."""

from __future__ import annotations

import asyncio

import pytest

from openderms.protocols.ieee2030_5.security.identity import ClientIdentity
from openderms.protocols.ieee2030_5.serving import protocol
from tests.protocols.ieee2030_5 import provision
from tests.protocols.ieee2030_5.conftest import Running


def test_comm_identity_is_resolved_once_per_connection(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[ClientIdentity | None] = []
    real = protocol.peer_identity

    def counting(transport: asyncio.BaseTransport) -> ClientIdentity | None:
        found = real(transport)
        calls.append(found)
        return found

    monkeypatch.setattr(protocol, "peer_identity", counting)
    provision.end_device(running, "device1")
    provision.end_device(running, "device2")
    with running.client("device1") as c:
        for _ in range(10):
            assert c.get("/edev").status_code == 200
    with running.client("device2") as c:
        for _ in range(3):
            assert c.get("/tm").status_code == 200
    assert calls == [running.pki.identities["device1"], running.pki.identities["device2"]]
