"""Load of the IEEE 2030.5 server over CSIP TLS on loopback, driven by a simulated fleet of DER.

    .venv/bin/python bench/ieee2030_5_load.py [--ders 10000] [--workers 1] [--store sqlite]
        [--duration-s 30] [--step-s 10] [--load-procs 1] [--mup-http 500] [--no-peer] [--json]

Set-up: a test CA makes the server's certificate and K aggregator certificates (one per 500
DER); N EndDevices are provisioned through the internal API; ``--mup-http`` of them register
their MirrorUsagePoint (with W and var MirrorMeterReadings, as ``DerAgent.register_telemetry``)
over HTTP, which gives ``mup_http_per_s``; the rest through the internal API
(``metering.post_mup``, the same manager call). The server is ``serving.factory:app_from_env``
(import-string factory) with ``--workers`` uvicorn workers on SQLite or PostgreSQL (a database
made for the run and dropped after), started with ``serving.server.tls_config``/``run``.

The load is ``loadgen_2030_5`` (pre-encoded requests on raw asyncio TLS connections, open loop,
latency from the scheduled time) in ``--load-procs`` processes. Phase 0 (``cold_first_cycle``,
unless ``--no-cold``): one postRate cycle at the N-DER load right after the server started, in
which every usage point is read from the store once. Phase 1 (the N-DER load, warm):
N/30 telemetry POSTs per second plus control polls (5 % of operations: GET DERControlList +
GET DefaultDERControl) for ``--duration-s``: ``p50_ms``, ``p99_ms``, ``errors``. Phase 2: the
rate ramps by 25 % per ``--step-s`` step until errors or less than 95 % of it is delivered:
``req_per_s_max`` is the highest step with no errors and p99 <= 50 ms; ``--hold-s`` then
holds that step's rate that long (``held_at_max``: whether it is sustained). CPU per request is
reported for the server (all its processes) and the load generator; ``load_cpu_share`` is the
fraction of the machine's cores the generator took at the maximum. Unless ``--no-peer``, the
same ramp is run against ``peer_2030_5`` (a minimal app on the same stack: its ceiling).
``BENCH_GC_STATS=1`` prints the server's garbage-collector pauses of 5 ms or more (1 worker).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "bench")]

from loadbench_2030_5 import POLL_FRACTION, Bench, recv, set_ders, store_url  # noqa: E402
from loadgen_2030_5 import Der  # noqa: E402

PEN = 12345
SERVE = [sys.executable, __file__, "--serve"]


# --- the server processes -------------------------------------------------------------------
def serve(app: str, cert: str, key: str, ca: str, port: int, workers: int) -> None:  # noqa: PLR0917
    from openderms.protocols.ieee2030_5.serving.server import TlsFiles, run, tls_config

    tls = TlsFiles(cert=Path(cert), key=Path(key), client_ca=Path(ca))
    options = {"workers": workers, "factory": True, "lifespan": "on", "log_level": "warning"}
    if os.environ.get("BENCH_GC_STATS"):  # diagnosis (1 worker: this process)
        log_gc_pauses()
    run(tls_config(app, tls, port=port, **options))


def log_gc_pauses(at_least_ms: float = 5.0) -> None:
    """Print each full collection, and each pause of at least ``at_least_ms``, to stderr."""
    import gc

    started = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        took = (time.perf_counter() - started[0]) * 1000
        if took >= at_least_ms or info["generation"] == 2:
            print(f"gc gen{info['generation']} pause {took:.1f} ms", file=sys.stderr)

    gc.callbacks.append(on_gc)


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


def lfdi_of(i: int) -> str:
    return hashlib.sha256(f"der-{i}".encode()).hexdigest()[:40]


def mup_doc(i: int) -> Any:
    """The MirrorUsagePoint ``DerAgent.register_telemetry`` posts for DER ``i``."""
    from openderms.protocols.ieee2030_5.schema.metering import MirrorMeterReading, MirrorUsagePoint
    from openderms.sim.fleet.agent import VARS, WATTS

    mrid = lfdi_of(i)[:28].upper()
    return MirrorUsagePoint(
        mrid=f"{mrid}0000",
        description="DER",
        role_flags="0049",
        service_category_kind=0,
        status=1,
        device_lfdi=lfdi_of(i).upper(),
        readings=[
            MirrorMeterReading(mrid=f"{mrid}0001", description="W", reading_type=WATTS),
            MirrorMeterReading(mrid=f"{mrid}0002", description="var", reading_type=VARS),
        ],
        post_rate=30,
    )


def provision(url: str, n: int, mup_http: int, aggregators: list[Any]) -> dict[str, Any]:
    """EndDevices 0..n-1 (DER i under aggregator i % K), one program with a default control,
    and the MirrorUsagePoints of DERs ``mup_http``..n-1 through the internal API."""
    from openderms.protocols.ieee2030_5.domain import Client
    from openderms.protocols.ieee2030_5.mapper import links
    from openderms.protocols.ieee2030_5.schema.derp import DefaultDERControl, DERControlBase
    from openderms.protocols.ieee2030_5.security.identity import ClientIdentity, sfdi_from_lfdi
    from openderms.protocols.ieee2030_5.services import build_services
    from openderms.store import open_store

    t0 = time.perf_counter()
    store = open_store(url)
    s = build_services(store.engine, pen=PEN)
    fsa = s.fsas.ensure("feeder-1")
    for i, agg in enumerate(aggregators):
        s.end_devices.put_client(agg, "aggregator", f"agg{i}")
    for i in range(n):
        lfdi = lfdi_of(i)
        device = ClientIdentity(lfdi=lfdi, sfdi=sfdi_from_lfdi(lfdi))
        edev = s.end_devices.ensure(device, aggregators[i % len(aggregators)].lfdi, der_id=f"d{i}")
        s.fsas.assign(edev.id, fsa.id)
    program = s.programs.ensure_program(fsa.id, "feeder-1", 2)
    default = DERControlBase(op_mod_max_lim_w=10_000)
    s.programs.set_default_control(
        program.id, DefaultDERControl(mrid="D" * 28 + "3039", der_control_base=default)
    )
    t1 = time.perf_counter()
    clients = [Client(identity=a, kind="aggregator") for a in aggregators]
    for i in range(mup_http, n):
        done = s.metering.post_mup(clients[i % len(clients)], mup_doc(i))
        done.durable.result()
    t2 = time.perf_counter()
    s.close()
    store.close()
    return {
        "edev_s": round(t1 - t0, 1),
        "mup_internal_per_s": round((n - mup_http) / (t2 - t1), 1) if n > mup_http else None,
        "controls_href": links.controls(program.id),
        "default_href": links.default_control(program.id),
    }


def mup_hrefs(url: str, aggregators: list[Any]) -> dict[str, str]:
    """The href of every usage point, by its device's LFDI."""
    from openderms.protocols.ieee2030_5.mapper import links
    from openderms.protocols.ieee2030_5.repository.metering import MeteringRepository
    from openderms.store.engine import create_store_engine

    engine = create_store_engine(url)
    repo = MeteringRepository(engine)
    found = {lfdi: links.mup(m.id) for a in aggregators for m, lfdi in repo.mups_for(a.lfdi, True)}
    engine.dispose()
    return found


def run(args: argparse.Namespace) -> dict[str, Any]:
    from openderms.protocols.ieee2030_5.serving.factory import FACTORY, PEN_ENV, STORE_URL_ENV

    folder = Path(tempfile.mkdtemp(prefix="sep-load-"))
    k = args.aggregators or max(1, args.ders // 500)
    pki = make_pki(folder, k)
    agg_ids = pki[3]
    url, drop = store_url(args.store, folder)
    out: dict[str, Any] = {"ders": args.ders}
    try:
        mup_http = min(args.mup_http, args.ders)
        prov = provision(url, args.ders, mup_http, agg_ids)
        env = {STORE_URL_ENV: url, PEN_ENV: str(PEN), "PYTHONPATH": str(ROOT / "src")}
        bench = Bench(SERVE, FACTORY, env, pki, args)
        try:
            out |= measure(bench, args, url, prov, mup_http, agg_ids)
        finally:
            bench.close()
        if args.peer:
            env = {"PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT / 'bench'}"}
            peer = Bench(SERVE, "peer_2030_5:echo_app", env, pki, args)
            try:
                set_ders(peer, out.pop("_ders"), "/derp/1/derc", "/derp/1/dderc")
                start = max(args.ders / 30 / (1 - POLL_FRACTION) * 1.25, args.ramp_from)
                steps, best = peer.ramp(start, args)
            finally:
                peer.close()
            out["peer"] = {"app": "bench/peer_2030_5.py (same stack, no 2030.5 logic)"}
            out["peer"]["req_per_s_max"] = best["req_per_s"] if best else None
            out["peer"]["ramp"] = steps
            if best and out["req_per_s_max"]:
                out["ratio_to_peer"] = round(out["req_per_s_max"] / best["req_per_s"], 2)
        out.pop("_ders", None)
    finally:
        drop()
    return out


def measure(  # noqa: PLR0917
    bench: Bench, args: Any, url: str, prov: dict[str, Any], mup_http: int, agg_ids: list[Any]
) -> dict[str, Any]:
    k = len(agg_ids)
    # MirrorUsagePoints over HTTP: DER i goes to load process (i % k) % P, its aggregator
    for p, (pipe, mine) in enumerate(zip(bench.pipes, bench.aggs_of, strict=True)):
        local = {a: j for j, a in enumerate(mine)}
        reqs = [
            (local[i % k], "/mup", mup_doc(i).to_xml(skip_empty=True, exclude_none=True))
            for i in range(mup_http)
            if (i % k) % len(bench.pipes) == p
        ]
        pipe.send(("post", reqs, args.connections))
    made = [recv(pipe, proc) for pipe, proc in zip(bench.pipes, bench.procs, strict=True)]
    created = sum(1 for locs, _ in made for x in locs if x is not None)
    mup_s = max((s for _, s in made), default=0.0)
    hrefs = mup_hrefs(url, agg_ids)
    ders = []
    for i in range(args.ders):
        mrid = lfdi_of(i)[:28].upper()
        href = hrefs[lfdi_of(i)]
        ders.append(Der(i % k, href, f"{mrid}0001", f"{mrid}0002"))
    set_ders(bench, ders, prov["controls_href"], prov["default_href"])
    load_rate = args.ders / 30 / (1 - POLL_FRACTION)
    cold = bench.phase(load_rate, args.ders / load_rate) if args.cold else None
    at_load = bench.phase(load_rate, args.duration_s)
    steps, best = bench.ramp(max(load_rate * 1.25, args.ramp_from), args)
    top = best or steps[0]
    # the ramp's best step held for --hold-s: is that rate sustained?
    held = bench.phase(best["target_ops_per_s"], args.hold_s) if best and args.hold_s else None
    return {
        "req_per_s_max": best["req_per_s"] if best else None,
        "held_at_max": held,
        "req_per_s_at_load": at_load["req_per_s"],
        "p50_ms": at_load["p50_ms"],
        "p99_ms": at_load["p99_ms"],
        "errors": at_load["errors"],
        "at_load": at_load,
        # the first postRate cycle after the server started: each usage point is read from
        # the store once (a cache miss in a worker thread), then served from memory
        "cold_first_cycle": cold,
        "server_cpu_ms_per_req": top["server_cpu_ms_per_req"],
        "load_cpu_ms_per_req": top["load_cpu_ms_per_req"],
        "load_cpu_share": round(top["load_cpu"] / (os.cpu_count() or 1), 2),
        "ramp": steps,
        "server": f"uvicorn {args.workers} worker(s) ({FACTORY_NOTE}), {args.store} store",
        "load": f"{k} aggregator certificates x {args.connections} TLS connections, "
        f"{args.load_procs} load process(es), bench/loadgen_2030_5.py",
        "mup_http": {"created": created, "of": mup_http, "per_s": round(created / mup_s, 1)}
        if mup_s
        else None,
        "mup_internal_per_s": prov["mup_internal_per_s"],
        "provision_edev_s": prov["edev_s"],
        "cores": os.cpu_count(),
        "_ders": ders,
    }


FACTORY_NOTE = "serving.factory:app_from_env, uvloop, httptools + CSIP TLS, no access log"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        app, cert, key, ca, port, workers = sys.argv[2:8]
        serve(app, cert, key, ca, int(port), int(workers))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ders", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--duration-s", type=float, default=30)
    ap.add_argument("--step-s", type=float, default=10)
    ap.add_argument("--max-steps", type=int, default=10)
    ap.add_argument("--ramp-from", type=float, default=0.0, help="first ramp step, ops/s")
    ap.add_argument("--hold-s", type=float, default=0.0, help="then hold the best step, s")
    ap.add_argument("--aggregators", type=int, default=0)
    ap.add_argument("--connections", type=int, default=4, help="per aggregator")
    ap.add_argument("--load-procs", type=int, default=1)
    ap.add_argument("--mup-http", type=int, default=500)
    ap.add_argument("--no-peer", dest="peer", action="store_false")
    ap.add_argument("--no-cold", dest="cold", action="store_false", help="no first cycle")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    out = run(args)
    if args.json:
        print(json.dumps(out, indent=2))
        return
    for key, v in out.items():
        if key not in {"ramp", "peer"}:
            print(f"{key:24} {v}")
    for step in out["ramp"]:
        print("  ramp", step)
    if "peer" in out:
        print("peer", out["peer"]["req_per_s_max"])


if __name__ == "__main__":
    main()
