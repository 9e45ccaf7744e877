"""Load of the IEEE 2030.5 server over CSIP TLS on loopback, driven by the DER fleet simulator.

    .venv/bin/python bench/ieee2030_5_load.py [--ders 10000] [--duration-s 60] [--json]
        [--aggregators K] [--load-procs P] [--step-s 10]

Set-up: a test CA makes the server's certificate and K aggregator certificates; N EndDevices
(synthetic LFDIs) are provisioned through the internal API (``services.end_devices.ensure``,
``fsas.assign``, one DERProgram with a DefaultDERControl) on a SQLite store. The server runs in
its own process (``serving.server.tls_config``: uvicorn, the CSIP TLS protocol that resolves
the client identity once per connection, uvloop, httptools, no access log, 1 worker). The
fleet runs in P other processes: every EndDevice is a ``DerAgent`` speaking through its
aggregator's TLS client; each registers its MirrorUsagePoint, then the load is open loop.

Phase 1 (the N-DER load): N/30 telemetry POSTs per second (postRate 30 s) plus control polls
(a poll = GET DERControlList + GET DefaultDERControl; 5 % of operations, so about 10 % of
requests) for ``--duration-s``: ``p50_ms``, ``p99_ms``, ``errors``. Phase 2: the rate is
ramped by 25 % per ``--step-s`` step until errors or the delivered rate falls below 95 % of
the target (at most ``--max-steps``): ``req_per_s_max`` is the highest step that also kept
p99 <= 50 ms, ``req_per_s_max_any_p99`` the highest delivered without errors. Each step
reports the load processes' and the server's CPU (fraction of one core): a load process near
1.0 means the load generator, not the server, was the limit, and the output says so.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RATED_W = 10_000.0
POLL_FRACTION = 0.05
P99_LIMIT_MS = 50.0


# --- the server process -------------------------------------------------------------------
def serve(db: str, cert: str, key: str, ca: str, port: int) -> None:
    import uvicorn

    from openderms.protocols.ieee2030_5.app import create_2030_5_app
    from openderms.protocols.ieee2030_5.services import build_services
    from openderms.protocols.ieee2030_5.serving.server import TlsFiles, tls_config
    from openderms.store import open_store

    store = open_store(f"sqlite:///{db}")
    services = build_services(store.engine, pen=12345)
    app = create_2030_5_app(services)
    tls = TlsFiles(cert=Path(cert), key=Path(key), client_ca=Path(ca))
    uvicorn.Server(tls_config(app, tls, port=port, log_level="warning")).run()
    services.close()


# --- provisioning ---------------------------------------------------------------------------
def make_pki(folder: Path, aggregators: int) -> tuple[Path, Any, list[Any], list[Any]]:
    from openderms.protocols.ieee2030_5.security.ca import CertificateAuthority

    ca = CertificateAuthority.create("openderms bench CA")
    ca_path = folder / "ca.crt"
    ca_path.write_bytes(ca.root.cert_pem)
    server = ca.issue_server(["127.0.0.1", "localhost"]).write(folder, "server")
    issued = [ca.issue_client(f"agg{i}") for i in range(aggregators)]
    paths = [c.write(folder, f"agg{i}") for i, c in enumerate(issued)]
    return ca_path, server, paths, [c.identity for c in issued]


def provision(db: Path, n: int, aggregators: list[Any]) -> float:
    from openderms.protocols.ieee2030_5.schema.derp import DefaultDERControl, DERControlBase
    from openderms.protocols.ieee2030_5.security.identity import ClientIdentity, sfdi_from_lfdi
    from openderms.protocols.ieee2030_5.services import build_services
    from openderms.store import open_store

    t0 = time.perf_counter()
    store = open_store(f"sqlite:///{db}")
    s = build_services(store.engine, pen=12345)
    fsa = s.fsas.ensure("feeder-1")
    for i, agg in enumerate(aggregators):
        s.end_devices.put_client(agg, "aggregator", f"agg{i}")
    for i in range(n):
        lfdi = hashlib.sha256(f"der-{i}".encode()).hexdigest()[:40]
        device = ClientIdentity(lfdi=lfdi, sfdi=sfdi_from_lfdi(lfdi))
        edev = s.end_devices.ensure(
            device, aggregators[i % len(aggregators)].lfdi, der_id=f"der-{i}"
        )
        s.fsas.assign(edev.id, fsa.id)
    program = s.programs.ensure_program(fsa.id, "feeder-1", 2)
    default = DERControlBase(op_mod_max_lim_w=10_000)
    s.programs.set_default_control(
        program.id, DefaultDERControl(mrid="D" * 28 + "3039", der_control_base=default)
    )
    s.close()
    store.close()
    return time.perf_counter() - t0


# --- the load processes ---------------------------------------------------------------------
def load_process(conn: Connection, base_url: str, ca: str, aggs: list[tuple[str, str]]) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    # httpcore tries ``import sniffio`` on every request; sniffio is not installed here, and
    # the failed import's path search took a fifth of the load process's CPU. Mark it absent.
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_load(conn, base_url, Path(ca), aggs))


async def _load(conn: Connection, base_url: str, ca: Path, aggs: list[tuple[str, str]]) -> None:
    from openderms.sim.fleet.agent import AgentStats, DerAgent
    from openderms.sim.fleet.fleet import ProfileAvailability, end_devices, tls_client

    pv = ProfileAvailability(start_s=0.0, pv_w=np.linspace(0, 9_000, 96))
    agents: list[DerAgent] = []
    clients = [tls_client(base_url, Path(c), Path(k), ca, connections=16) for c, k in aggs]
    for http in clients:
        devices = await end_devices(http)
        first: DerAgent | None = None
        for e in devices:
            a = DerAgent(http, e.lfdi or "", rated_w=RATED_W, available=pv)
            if first is None:
                await a.discover(e)
                first = a
            a.programs, a.edev_href = first.programs, e.href
            agents.append(a)
    gate = asyncio.Semaphore(64)

    async def register(a: DerAgent) -> None:
        async with gate:
            await a.register_telemetry()

    await asyncio.gather(*(register(a) for a in agents))
    conn.send(len(agents))
    rng = np.random.default_rng(len(agents))
    while True:
        cmd = conn.recv()
        if cmd is None:
            break
        rate, seconds = cmd
        for a in agents:
            a.stats = AgentStats()
        conn.send(await _drive(agents, rate, seconds, rng))
    for http in clients:
        await http.aclose()


async def _drive(agents: list[Any], rate: float, seconds: float, rng: Any) -> dict[str, Any]:
    """Open loop: ``rate`` operations/s for ``seconds``; at most 2,000 in flight."""
    inflight: set[asyncio.Task[None]] = set()
    failures, shed, ops = 0, 0, 0

    async def op(a: Any, poll: bool) -> None:
        nonlocal failures
        try:
            await (a.poll() if poll else a.post_telemetry())
        except Exception:
            failures += 1

    cpu0, t0 = time.process_time(), time.perf_counter()
    due = 0
    while (now := time.perf_counter() - t0) < seconds:
        target = int(now * rate)
        while due < target:
            due += 1
            if len(inflight) >= 2000:
                shed += 1
                continue
            a = agents[ops % len(agents)]
            ops += 1
            task = asyncio.create_task(op(a, bool(rng.random() < POLL_FRACTION)))
            inflight.add(task)
            task.add_done_callback(inflight.discard)
        await asyncio.sleep(0.005)
    if inflight:
        await asyncio.wait(inflight, timeout=30)
    wall = time.perf_counter() - t0
    lat = [x for a in agents for x in a.stats.latencies_s]
    return {
        "requests": sum(a.stats.requests for a in agents),
        "http_errors": sum(a.stats.errors for a in agents),
        "failures": failures + shed,
        "latencies_ms": [x * 1000 for x in lat],
        "wall_s": wall,
        "cpu": (time.process_time() - cpu0) / wall,
    }


# --- orchestration --------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server process ended")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def phase(pipes: list[Connection], rate: float, seconds: float, server_pid: int) -> dict[str, Any]:
    """Drive ``rate`` operations/s in total for ``seconds``, split over the load processes."""
    cpu0 = cpu_s(server_pid)
    for p in pipes:
        p.send((rate / len(pipes), seconds))
    parts = [p.recv() for p in pipes]
    lat = np.array([x for part in parts for x in part["latencies_ms"]] or [0.0])
    wall = max(part["wall_s"] for part in parts)
    requests = sum(part["requests"] for part in parts)
    server_cpu = (cpu_s(server_pid) - cpu0) / wall
    return {
        "target_ops_per_s": round(rate, 1),
        "req_per_s": round(requests / wall, 1),
        "requests": requests,
        "p50_ms": round(float(np.percentile(lat, 50)), 2),
        "p99_ms": round(float(np.percentile(lat, 99)), 2),
        "errors": sum(part["http_errors"] + part["failures"] for part in parts),
        # 4xx/5xx or transport errors / operations failed (timeout) or shed (2,000 in flight)
        "http_errors": sum(part["http_errors"] for part in parts),
        "failed_ops": sum(part["failures"] for part in parts),
        "load_cpu_per_proc": [round(part["cpu"], 2) for part in parts],
        "server_cpu": round(server_cpu, 2),
    }


def passed(step: dict[str, Any], p99_ms: float = P99_LIMIT_MS) -> bool:
    """No errors, p99 within ``p99_ms`` and at least 95 % of the asked rate delivered."""
    wanted_req = step["target_ops_per_s"] * (1 + POLL_FRACTION)
    return bool(
        step["errors"] == 0 and step["p99_ms"] <= p99_ms and step["req_per_s"] >= 0.95 * wanted_req
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="sep-load-"))
    aggregators = args.aggregators or max(1, args.ders // 500)
    ca, server, agg_paths, agg_ids = make_pki(folder, aggregators)
    db = folder / "sep.db"
    provision_s = provision(db, args.ders, agg_ids)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, __file__, "--serve", str(db), str(server.cert), str(server.key)]
    srv = subprocess.Popen([*cmd, str(ca), str(port)], env=env)
    ctx = mp.get_context("spawn")
    pipes, procs = [], []
    try:
        wait_listening(port, srv)
        base = f"https://127.0.0.1:{port}"
        for i in range(args.load_procs):
            mine = [(str(p.cert), str(p.key)) for p in agg_paths[i :: args.load_procs]]
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=load_process, args=(child, base, str(ca), mine))
            proc.start()
            pipes.append(parent)
            procs.append(proc)
        t0 = time.perf_counter()
        registered = sum(p.recv() for p in pipes)
        setup_s = time.perf_counter() - t0
        load_rate = args.ders / 30 / (1 - POLL_FRACTION)
        at_load = phase(pipes, load_rate, args.duration_s, srv.pid)
        ramp: list[dict[str, Any]] = []
        best, most = None, None
        rate = load_rate * 1.25
        while len(ramp) < args.max_steps:
            step = phase(pipes, rate, args.step_s, srv.pid)
            ramp.append(step)
            if passed(step) and (best is None or step["req_per_s"] > best["req_per_s"]):
                best = step
            if not passed(step, p99_ms=float("inf")):
                break  # errors, or the rate asked is no longer delivered
            most = step
            rate *= 1.25
        for p in pipes:
            p.send(None)
        for proc in procs:
            proc.join(30)
    finally:
        srv.terminate()
        srv.wait(30)
    limit = ramp[-1]
    client_bound = max(limit["load_cpu_per_proc"]) >= 0.9
    server_bound = limit["server_cpu"] >= 0.9
    limited_by = (
        "load generator (client CPU saturated)"
        if client_bound
        else "server (CPU saturated)"
        if server_bound
        else "no process CPU-bound: server waits (I/O, queueing) or the 2 cores are shared"
    )
    return {
        "ders": args.ders,
        "registered": registered,
        "req_per_s_max": best["req_per_s"] if best else None,
        "req_per_s_max_any_p99": most["req_per_s"] if most else None,
        "req_per_s_at_load": at_load["req_per_s"],
        "p50_ms": at_load["p50_ms"],
        "p99_ms": at_load["p99_ms"],
        "errors": at_load["errors"],
        "http_errors": at_load["http_errors"],
        "failed_ops": at_load["failed_ops"],
        "load_cpu_per_proc_at_load": at_load["load_cpu_per_proc"],
        "server_cpu_at_load": at_load["server_cpu"],
        "ramp": ramp,
        "limited_by": limited_by,
        "server": "uvicorn 1 worker, uvloop, httptools (CSIP TLS protocol), no access log, "
        "SQLite store, TLS 1.2 ECDHE-ECDSA-AES128-CCM8",
        "clients": f"{aggregators} aggregator certificates, {args.load_procs} load processes, "
        "httpx.AsyncClient (16 connections per aggregator)",
        "duration_s": args.duration_s,
        "provision_s": round(provision_s, 1),
        "setup_s": round(setup_s, 1),
        "cores": os.cpu_count(),
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        db, cert, key, ca, port = sys.argv[2:7]
        serve(db, cert, key, ca, int(port))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ders", type=int, default=10_000)
    ap.add_argument("--duration-s", type=float, default=60)
    ap.add_argument("--step-s", type=float, default=10)
    ap.add_argument("--max-steps", type=int, default=12)
    ap.add_argument("--aggregators", type=int, default=0)
    ap.add_argument("--load-procs", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    out = run(args)
    if args.json:
        print(json.dumps(out, indent=2))
        return
    for k, v in out.items():
        if k != "ramp":
            print(f"{k:28} {v}")
    for step in out["ramp"]:
        print("  ramp", step)


if __name__ == "__main__":
    main()
