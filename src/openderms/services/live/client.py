"""The operator's side of a live run: ``live.json`` in the workspace (written by the running
``openderms run``: REST API URL, operator token, its process id) and the REST calls
``openderms grid switch --live`` makes."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from openderms.errors import OpenDermsError

LIVE_FILE = "live.json"


class LiveRunError(OpenDermsError):
    """No live run to talk to, or it refused the command (its problem detail says why)."""


def live_info(workspace: Path) -> dict[str, Any] | None:
    """What ``live.json`` says, when the run that wrote it is still alive; else None."""
    path = workspace / LIVE_FILE
    try:
        info: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    try:
        os.kill(int(info["pid"]), 0)
    except (OSError, KeyError, ValueError):
        return None
    return info


def switch_live(workspace: Path, switch_id: str, closed: bool) -> dict[str, Any]:
    """POST the switch's new state to the live run's REST API; its answer (the state
    reported), or ``LiveRunError`` with the problem's detail."""
    return _post(workspace, f"/api/v1/grid/switches/{switch_id}", {"closed": closed})


def order_live(
    workspace: Path, switch_id: str, closed: bool, start: datetime, end: datetime | None
) -> dict[str, Any]:
    """POST a planned switching order to the live run's REST API; the order published."""
    body = {
        "switch_id": switch_id,
        "closed": closed,
        "start": start.isoformat(),
        "end": end.isoformat() if end is not None else None,
    }
    return _post(workspace, "/api/v1/grid/switching-orders", body)


def _post(workspace: Path, path: str, body: dict[str, Any]) -> dict[str, Any]:
    info = live_info(workspace)
    if info is None:
        raise LiveRunError(f"no live run in {workspace} (start one with `openderms run --stay`)")
    headers = {"Authorization": f"Bearer {info['token']}"}
    try:
        r = httpx.post(f"{info['api_url']}{path}", json=body, headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        raise LiveRunError(f"the live run at {info['api_url']} did not answer: {exc}") from exc
    answer: dict[str, Any] = r.json() if r.content else {}
    if r.status_code >= 400:
        issues = "; ".join(
            f"{i.get('field')}={i.get('value')!r}: expected {i.get('expected')}"
            for i in answer.get("issues", [])
        )
        detail = answer.get("detail", r.text)
        raise LiveRunError(f"{r.status_code}: {detail}" + (f" ({issues})" if issues else ""))
    return answer
