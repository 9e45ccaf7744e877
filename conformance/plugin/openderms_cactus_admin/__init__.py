"""cactus-client admin plugin for openderms: each admin instruction of a CSIP test procedure
becomes ``POST {OPENDERMS_ADMIN_URL}/admin/{type}`` with ``Authorization: Bearer
{OPENDERMS_ADMIN_TOKEN}`` and a JSON body naming the client (lFDI, type, PIN) and the
instruction's parameters. Without OPENDERMS_ADMIN_URL the plugin handles nothing."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.error
import urllib.request
from typing import Any

from cactus_client.admin import hookimpl
from cactus_client.model.context import AdminContext
from cactus_client.model.execution import ActionResult, StepExecution
from cactus_client.sep2 import lfdi_from_cert_file
from cactus_test_definitions.server.admin_instructions import AdminInstruction


def _post(url: str, token: str, body: dict[str, Any]) -> tuple[int, str]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def _plain(value: Any) -> Any:
    """Parameters as JSON values (enums -> their value, numbers and booleans kept)."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value.value if hasattr(value, "value") else value
    if hasattr(value, "value"):
        return value.value
    return str(value)


class OpenDermsAdminPlugin:
    @hookimpl
    async def admin_instruction(
        self, instruction: AdminInstruction, step: StepExecution, context: AdminContext
    ) -> ActionResult | None:
        url = os.environ.get("OPENDERMS_ADMIN_URL")
        if not url:
            return None
        token = os.environ.get("OPENDERMS_ADMIN_TOKEN", "")
        client = context.client_config_for(instruction.client)
        body = {
            "lfdi": client.lfdi,
            "certificate_lfdi": lfdi_from_cert_file(client.certificate_file),
            "client_type": str(_plain(client.type)),
            "pin": client.pin,
            "parameters": {k: _plain(v) for k, v in (instruction.parameters or {}).items()},
        }
        kind = str(_plain(instruction.type))
        status, text = await asyncio.to_thread(
            _post, f"{url.rstrip('/')}/admin/{kind}", token, body
        )
        if status == 200:
            return ActionResult.done()
        raise RuntimeError(f"admin {kind} for {client.id} refused ({status}): {text}")
