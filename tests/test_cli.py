"""The command line end to end, as a user runs it (in-process through Typer's runner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openderms.cli import app
from openderms.store.network_files import NetworkFileStore
from tests.web.conftest import Web, twin, web
from tests.web.test_api_grid import RecordingGrid

__all__ = ["twin", "web"]  # the web tests' fixtures: the REST API of a live run

runner = CliRunner()
FEEDERS = Path(__file__).resolve().parents[1].parent / "shared" / "feeders"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    result = runner.invoke(app, ["twin", "build", "--preset", "small", "--workspace", str(ws)])
    assert result.exit_code == 0, result.output
    return ws


def test_show_lists_feeders_and_topology_nodes(workspace: Path) -> None:
    result = runner.invoke(app, ["grid", "show", "--workspace", str(workspace)])
    assert result.exit_code == 0, result.output
    assert "Feeders" in result.output
    assert "topology nodes (by service transformer):" in result.output


def test_powerflow_prints_and_plots(workspace: Path, tmp_path: Path) -> None:
    png = tmp_path / "pf.png"
    args = ["grid", "powerflow", "--workspace", str(workspace), "--plot", str(png)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "engine pgm: converged=True" in result.output
    assert png.stat().st_size > 10_000


def test_switch_changes_the_stored_model(workspace: Path) -> None:
    net = NetworkFileStore(workspace).load()
    head = net.feeders[0].head
    result = runner.invoke(app, ["grid", "switch", head, "open", "--workspace", str(workspace)])
    assert result.exit_code == 0, result.output
    assert f"{head} is now open" in result.output
    stored = {s.id: s.closed for s in NetworkFileStore(workspace).load().switches}
    assert stored[head] is False
    assert "buses de-energised: 0" not in result.output


def test_unknown_switch_is_a_clear_error_and_changes_nothing(workspace: Path) -> None:
    before = NetworkFileStore(workspace).path.read_bytes()
    result = runner.invoke(app, ["grid", "switch", "NOPE", "open", "--workspace", str(workspace)])
    assert result.exit_code != 0
    assert isinstance(result.exception, KeyError)
    assert "NOPE" in str(result.exception)
    assert NetworkFileStore(workspace).path.read_bytes() == before


def test_validate_json_on_ieee13() -> None:
    dss = FEEDERS / "IEEETestCases" / "13Bus" / "IEEE13Nodeckt.dss"
    assert dss.is_file(), f"shared feeders missing at {dss}"
    result = runner.invoke(app, ["grid", "validate", str(dss), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["engine"] == "opendss"
    assert out["nodes_compared"] >= 40
    assert out["max_abs_dv_pu"] <= 1e-3


def test_import_saves_the_model(tmp_path: Path) -> None:
    dss = FEEDERS / "IEEETestCases" / "123Bus" / "IEEE123Master.dss"
    ws = tmp_path / "imp"
    result = runner.invoke(app, ["grid", "import", str(dss), "--workspace", str(ws)])
    assert result.exit_code == 0, result.output
    net = NetworkFileStore(ws).load()
    assert len(net.buses) > 120
    assert {"sw1", "sw7", "sw8"} <= {s.id for s in net.switches}


def test_errors_reach_the_user_as_one_line_and_exit_2(workspace: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "openderms",
            "grid",
            "switch",
            "NOPE",
            "close",
            "--workspace",
            str(workspace),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "no switch with id 'NOPE' in the model" in proc.stderr
    assert "Traceback" not in proc.stderr


def _live_json(ws: Path, web: Web) -> None:
    import os

    ws.mkdir(parents=True, exist_ok=True)
    body = {"api_url": str(web.client.base_url).rstrip("/"), "token": web.tokens["ops"]}
    (ws / "live.json").write_text(json.dumps({**body, "pid": os.getpid()}), encoding="utf-8")


def test_switch_live_posts_to_the_live_run_and_leaves_the_model(web: Web, workspace: Path) -> None:
    """With a live run's live.json in the workspace, ``grid switch`` is live by default."""
    grid = RecordingGrid()
    web.app.state.live_switching = grid
    _live_json(workspace, web)
    before = NetworkFileStore(workspace).path.read_bytes()
    result = runner.invoke(app, ["grid", "switch", "F1_CB", "open", "--workspace", str(workspace)])
    assert result.exit_code == 0, result.output
    assert "F1_CB open: reported on switch_states.sub1" in result.output
    assert grid.reported == [("F1_CB", False)]
    assert NetworkFileStore(workspace).path.read_bytes() == before
    args = ["grid", "switch", "TIE_F1_F2", "close", "--start", "2026-07-15T19:00:00+00:00"]
    result = runner.invoke(
        app, [*args, "--end", "2026-07-15T21:00:00", "--workspace", str(workspace)]
    )
    assert result.exit_code == 0, result.output
    assert "published on switching_orders.sub1" in result.output
    assert [(o["switch_id"], o["closed"], o["end"]) for o in grid.ordered] == [
        ("TIE_F1_F2", True, "2026-07-15T21:00:00+00:00")
    ]


def test_switch_live_errors_name_the_problem(web: Web, tmp_path: Path) -> None:
    ws = tmp_path / "none"
    result = runner.invoke(
        app, ["grid", "switch", "F1_CB", "open", "--live", "--workspace", str(ws)]
    )
    assert result.exit_code != 0
    assert "no live run" in str(result.exception)
    web.app.state.live_switching = RecordingGrid()
    _live_json(ws, web)
    result = runner.invoke(
        app, ["grid", "switch", "NOPE", "open", "--live", "--workspace", str(ws)]
    )
    assert "404" in str(result.exception)
    assert "NOPE" in str(result.exception)
    args = ["grid", "switch", "F1_CB", "open", "--start", "2026-07-15T19:00:00+00:00"]
    result = runner.invoke(
        app, [*args, "--end", "2026-07-15T18:00:00+00:00", "--workspace", str(ws)]
    )
    assert "422" in str(result.exception)
    assert "end=" in str(result.exception)
