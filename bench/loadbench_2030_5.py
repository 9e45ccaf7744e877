"""The processes of the 2030.5 load bench (``ieee2030_5_load.py``): the server in a
subprocess, the load generators (``loadgen_2030_5.serve_pipe``) in spawned processes, the
phases and ramp they run, and the CPU the server's processes used."""

from __future__ import annotations

import multiprocessing as mp
import os
import secrets
import socket
import subprocess
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from loadgen_2030_5 import Der, Fleet, serve_pipe

POLL_FRACTION = 0.05
P99_LIMIT_MS = 50.0


# --- processes --------------------------------------------------------------------------
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


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and its live children (Linux /proc)."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += tree_cpu_s(int(child))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return total


def machine_busy_s() -> float:
    """CPU seconds all cores of the machine spent busy (not idle or iowait) since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def recv(pipe: Connection, proc: Any, timeout_s: float = 900) -> Any:
    """The next message of a load process (RuntimeError when it died or went silent)."""
    deadline = time.monotonic() + timeout_s
    while not pipe.poll(1.0):
        if not proc.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("a load process died or did not answer")
    return pipe.recv()


class Bench:
    """A server process and the load processes driving it."""

    def __init__(
        self, serve: list[str], app: str, env: dict[str, str], pki: tuple[Any, ...], args: Any
    ) -> None:
        """``serve``: the command that serves (followed by app, cert, key, CA, port,
        workers)."""
        ca, server, agg_paths, _ = pki
        self.port = free_port()
        cmd = [*serve, app, str(server.cert), str(server.key)]
        cmd += [str(ca), str(self.port), str(args.workers)]
        self.srv = subprocess.Popen(cmd, env={**os.environ, **env})
        wait_listening(self.port, self.srv)
        time.sleep(1.0 if args.workers > 1 else 0.2)  # every worker listening
        ctx = mp.get_context("spawn")
        self.pipes: list[Connection] = []
        self.procs: list[Any] = []
        self.aggs_of: list[list[int]] = []
        for p in range(args.load_procs):
            mine = list(range(p, len(agg_paths), args.load_procs))
            fleet = Fleet(
                host="127.0.0.1",
                port=self.port,
                ca=str(ca),
                aggregators=[(str(agg_paths[a].cert), str(agg_paths[a].key)) for a in mine],
                ders=[],
                controls_href="",
                default_href="",
                connections_per_aggregator=args.connections,
                poll_fraction=POLL_FRACTION,
            )
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=serve_pipe, args=(child, fleet))
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)
            self.aggs_of.append(mine)
        for pipe, proc in zip(self.pipes, self.procs, strict=True):
            assert recv(pipe, proc, 120) == "ready"

    def phase(self, rate: float, seconds: float) -> dict[str, Any]:
        cpu0, busy0 = tree_cpu_s(self.srv.pid), machine_busy_s()
        for p in self.pipes:
            p.send(("drive", rate / len(self.pipes), seconds))
        parts = [recv(p, proc) for p, proc in zip(self.pipes, self.procs, strict=True)]
        lat = np.array([x for part in parts for x in part["latencies_ms"]] or [0.0])
        wall = max(part["wall_s"] for part in parts)
        requests = sum(part["requests"] for part in parts)
        server_cpu_s = tree_cpu_s(self.srv.pid) - cpu0
        load_cpu_s = sum(part["cpu_s"] for part in parts)
        busy_s = machine_busy_s() - busy0
        statuses: dict[int, int] = {}
        for part in parts:
            for k, v in part["statuses"].items():
                statuses[k] = statuses.get(k, 0) + v
        return {
            "target_ops_per_s": round(rate, 1),
            "req_per_s": round(requests / wall, 1),
            "requests": requests,
            "p50_ms": round(float(np.percentile(lat, 50)), 2),
            "p99_ms": round(float(np.percentile(lat, 99)), 2),
            "errors": sum(part["http_errors"] + part["failed_ops"] for part in parts),
            "http_errors": sum(part["http_errors"] for part in parts),
            "failed_ops": sum(part["failed_ops"] for part in parts),
            "statuses": statuses,
            "server_cpu": round(server_cpu_s / wall, 2),
            "server_cpu_ms_per_req": round(1000 * server_cpu_s / max(requests, 1), 3),
            "load_cpu": round(load_cpu_s / wall, 2),
            "load_cpu_ms_per_req": round(1000 * load_cpu_s / max(requests, 1), 3),
            # cores busy with anything else on the machine (other users of the 2 cores)
            "others_cpu": round(max(busy_s - server_cpu_s - load_cpu_s, 0.0) / wall, 2),
        }

    def ramp(self, start: float, args: Any) -> tuple[list[dict[str, Any]], Any]:
        steps: list[dict[str, Any]] = []
        best, rate = None, start
        while len(steps) < args.max_steps:
            step = self.phase(rate, args.step_s)
            steps.append(step)
            if passed(step) and (best is None or step["req_per_s"] > best["req_per_s"]):
                best = step
            if not passed(step, p99_ms=float("inf")):
                break
            rate *= 1.25
        return steps, best

    def close(self) -> None:
        for p, proc in zip(self.pipes, self.procs, strict=True):
            if proc.is_alive():
                p.send(None)
        for proc in self.procs:
            proc.join(30)
            if proc.is_alive():
                proc.kill()
        self.srv.terminate()
        self.srv.wait(30)


def passed(step: dict[str, Any], p99_ms: float = P99_LIMIT_MS) -> bool:
    """No errors, p99 within ``p99_ms`` and at least 95 % of the asked rate delivered."""
    wanted_req = step["target_ops_per_s"] * (1 + POLL_FRACTION)
    return bool(
        step["errors"] == 0 and step["p99_ms"] <= p99_ms and step["req_per_s"] >= 0.95 * wanted_req
    )


def store_url(kind: str, folder: Path) -> tuple[str, Any]:
    """A fresh store of ``kind`` and how to drop it."""
    if kind == "sqlite":
        return f"sqlite:///{folder / 'sep.db'}", lambda: None
    from sqlalchemy import create_engine

    from openderms.store.engine import normalise_url

    base = normalise_url(os.environ.get("OPENDERMS_TEST_PG_URL", "postgresql://127.0.0.1/test"))
    name = f"openderms_bench_sep_{secrets.token_hex(4)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def set_ders(bench: Bench, ders: list[Der], controls: str, default: str) -> None:
    for pipe, mine in zip(bench.pipes, bench.aggs_of, strict=True):
        local = {a: j for j, a in enumerate(mine)}
        part = [Der(local[d.aggregator], d.mup_href, d.w_mrid, d.var_mrid) for d in ders]
        pipe.send(("ders", [d for d, g in zip(part, ders, strict=True) if g.aggregator in local]))
        pipe.send(("hrefs", controls, default))
