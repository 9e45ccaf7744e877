"""``openderms der``, ``openderms token``, ``openderms aggregator`` and ``openderms serve``
(with and without ``--sep-port``) as a user runs them, on the embedded default (SQLite in the
workspace) with the ``small`` twin."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from openderms.cli import app
from openderms.errors import ValidationError
from openderms.protocols.ieee2030_5.security.ca import CertificateAuthority
from openderms.protocols.ieee2030_5.security.tls import client_context
from openderms.registry.csv_import import to_csv
from openderms.registry.domain import Registration
from openderms.services.der_2030_5_serve import SepOptions, sep_tls
from openderms.sim.twin import build_twin
from openderms.store import open_store
from openderms.store.aggregator_repository import SqlAggregatorRepository
from tests.web.server import free_port

runner = CliRunner()
ENV = {"OPENDERMS_NETWORK_PRESET": "small", "OPENDERMS_NETWORK_SEED": "0"}


@pytest.fixture(scope="module")
def good_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    loads = build_twin("small").network.loads
    regs = [
        Registration.model_validate(
            {
                "der_type": "pv",
                "nameplate": {"p_export_kw": 3 + i % 7, "s_kva": 12},
                "inverter": {"make": "SunCo", "model": "S-7"},
                "location": {"service_point_id": load.id},
                "owner_name": f"Owner {i}",
                "owner_email": f"owner{i}@example.org",
                "application_id": f"CLI-{i}",
            }
        )
        for i, load in enumerate(loads[:40])
    ]
    path = tmp_path_factory.mktemp("csv") / "ders.csv"
    path.write_text(to_csv(regs), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def bad_csv(good_csv: Path) -> Path:
    lines = good_csv.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace("pv,", "windmill,", 1)  # row 4
    lines[9] = lines[9].replace("owner8@example.org", "owner8-at-example")  # row 10
    path = good_csv.with_name("bad.csv")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_token_create_prints_a_token_the_store_resolves(tmp_path: Path) -> None:
    args = ["token", "create", "--role", "aggregator", "--id", "fleetco", "--workspace"]
    result = runner.invoke(app, [*args, str(tmp_path)], env=ENV)
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert len(token) >= 32
    with open_store(f"sqlite:///{tmp_path / 'openderms.db'}") as store:
        actor = store.tokens.resolve(token)
    assert actor is not None
    assert (actor.id, actor.role, actor.aggregator_id) == ("fleetco", "aggregator", "fleetco")


def test_der_import_registers_every_row_and_prints_the_decisions(
    tmp_path: Path, good_csv: Path
) -> None:
    ws = ["--workspace", str(tmp_path)]
    result = runner.invoke(app, ["der", "import", str(good_csv), "--as", "acme", *ws], env=ENV)
    assert result.exit_code == 0, result.output
    assert "40 DER registered from ders.csv" in result.output
    assert "approve" in result.output
    listed = runner.invoke(app, ["der", "list", "--limit", "5", *ws], env=ENV)
    assert listed.exit_code == 0, listed.output
    assert "DER (5 of 40)" in listed.output
    assert "CLI-0" in listed.output


def test_der_import_with_bad_rows_imports_nothing(tmp_path: Path, bad_csv: Path) -> None:
    ws = ["--workspace", str(tmp_path)]
    result = runner.invoke(app, ["der", "import", str(bad_csv), *ws], env=ENV)
    assert isinstance(result.exception, ValidationError)
    rows = sorted(i.object_id for i in result.exception.issues)
    assert rows == ["row 10", "row 4"]
    listed = runner.invoke(app, ["der", "list", *ws], env=ENV)
    assert "DER (0 of 0)" in listed.output


def test_der_import_prints_every_bad_row_and_exits_2(tmp_path: Path, bad_csv: Path) -> None:
    env = {**os.environ, **ENV, "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "openderms", "der", "import", str(bad_csv)]
    done = subprocess.run(
        [*cmd, "--workspace", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "invalid input: 2 issue(s)" in done.stderr
    assert "row 4" in done.stderr
    assert "windmill" in done.stderr
    assert "row 10" in done.stderr
    assert "owner8-at-example" in done.stderr


def test_der_list_refuses_an_unknown_status(tmp_path: Path) -> None:
    args = ["der", "list", "--status", "sleeping", "--workspace", str(tmp_path)]
    result = runner.invoke(app, args, env=ENV)
    assert result.exit_code == 2
    assert "--status" in result.output


def test_serve_answers_the_api_and_the_portal(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, **ENV, "OPENDERMS_BOOTSTRAP_OPERATOR_TOKEN": "boot-token-for-tests"}
    cmd = [sys.executable, "-m", "openderms", "serve", "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, "--workspace", str(tmp_path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/login", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "openderms serve did not start"
            time.sleep(0.25)
        headers = {"Authorization": "Bearer boot-token-for-tests"}
        r = httpx.get(f"{base}/api/v1/ders", headers=headers, timeout=10)
        assert r.status_code == 200
        assert r.json()["total"] == 0
        assert httpx.get(f"{base}/api/v1/ders", timeout=10).status_code == 401
        assert httpx.get(f"{base}/docs", timeout=10).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()


def test_aggregator_add_takes_the_lfdi_of_a_certificate_or_as_given(tmp_path: Path) -> None:
    issued = CertificateAuthority.create("cli CA").issue_client("fleetco")
    pem = tmp_path / "fleetco.pem"
    pem.write_bytes(issued.cert_pem)
    ws = ["--workspace", str(tmp_path)]
    result = runner.invoke(app, ["aggregator", "add", "fleetco", "--cert", str(pem), *ws], env=ENV)
    assert result.exit_code == 0, result.output
    lfdi = "ab" * 20
    result = runner.invoke(app, ["aggregator", "add", "other", "--lfdi", lfdi, *ws], env=ENV)
    assert result.exit_code == 0, result.output
    listed = runner.invoke(app, ["aggregator", "list", *ws], env=ENV)
    assert issued.identity.lfdi.upper() in listed.output
    assert lfdi.upper() in listed.output


def test_aggregator_add_refuses_a_bad_or_taken_lfdi_storing_nothing(tmp_path: Path) -> None:
    ws = ["--workspace", str(tmp_path)]
    result = runner.invoke(app, ["aggregator", "add", "a1", "--lfdi", "12ab", *ws], env=ENV)
    assert isinstance(result.exception, ValidationError)
    [issue] = result.exception.issues
    assert (issue.object_id, issue.field, issue.value) == ("a1", "lfdi", "12ab")
    runner.invoke(app, ["aggregator", "add", "a1", "--lfdi", "c" * 40, *ws], env=ENV)
    result = runner.invoke(app, ["aggregator", "add", "a2", "--lfdi", "c" * 40, *ws], env=ENV)
    assert isinstance(result.exception, ValidationError)
    assert "aggregator a1" in result.exception.issues[0].expected
    neither = runner.invoke(app, ["aggregator", "add", "a3", *ws], env=ENV)
    assert neither.exit_code == 2
    with open_store(f"sqlite:///{tmp_path / 'openderms.db'}") as store:
        assert [a.id for a in SqlAggregatorRepository(store.engine).all()] == ["a1"]


def test_serve_with_a_sep_port_answers_2030_5_over_csip_tls(tmp_path: Path) -> None:
    ca = CertificateAuthority.create("serve CA")
    ca_path = tmp_path / "ca.crt"
    ca_path.write_bytes(ca.root.cert_pem)
    server = ca.issue_server(["127.0.0.1"]).write(tmp_path, "server")
    client = ca.issue_client("device").write(tmp_path, "device")
    port, sep_port = free_port(), free_port()
    cmd = [sys.executable, "-m", "openderms", "serve", "--port", str(port)]
    sep = ["--sep-port", str(sep_port), "--sep-cert", str(server.cert)]
    sep += ["--sep-key", str(server.key), "--sep-ca", str(ca_path)]
    proc = subprocess.Popen(
        [*cmd, *sep, "--workspace", str(tmp_path / "ws")],
        env={**os.environ, **ENV},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    ctx = client_context(client.cert, client.key, ca_path)
    try:
        deadline = time.monotonic() + 120
        with httpx.Client(base_url=f"https://127.0.0.1:{sep_port}", verify=ctx) as c:
            while True:
                try:
                    r = c.get("/dcap", timeout=2)
                    break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline, "openderms serve --sep-port did not start"
                time.sleep(0.25)
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/sep+xml"
        assert httpx.get(f"http://127.0.0.1:{port}/login", timeout=10).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()


def test_serve_makes_a_workspace_ca_once(tmp_path: Path) -> None:
    first = sep_tls(tmp_path, SepOptions(port=0))
    assert first.client_ca == tmp_path / "sep-pki" / "ca.crt"
    made = first.cert.read_bytes()
    again = sep_tls(tmp_path, SepOptions(port=0))
    assert again.cert.read_bytes() == made
    with pytest.raises(ValueError, match="together"):
        sep_tls(tmp_path, SepOptions(port=0, cert=first.cert))
