"""Control delivery through the real-time loop: a simulated fleet around solar noon.

    .venv/bin/python bench/delivery.py [--preset small|camden] [--json] [--hours 2]
        [--step-s 30] [--loss 0.10] [--ignoring 0.05] [--delay-s 5] [--seed 0]
        [--deadband-kw 1.0] [--deadband-pct 10] [--no-compare]

The twin's design day from ``--hours``/2 before to after solar noon (loads and available PV
from its 15-minute profile, fed to the loop as measurements) with the loop stepping every
``--step-s``: every reachable DER sends telemetry, the loop dispatches, queues and delivers
over the in-memory link, where each send fails with probability ``--loss`` (a transient
communication loss; the queue retries with back-off) and a share ``--ignoring`` of the DER
acknowledge controls but never act on them (the loop finds them from telemetry and covers
their share with other DER). Prints:

- ``delivery_rate_first_try`` / ``delivery_rate_eventual``: of deliverable controls (see
  ``services.control_loop.queue``), received on the first attempt / on any (goal >= 0.99);
- ``violations_left``: violations an independent AC power flow of the fleet as it really runs
  shows at the end that DER could act on (goal 0); ``violations_outside_der_control``: the
  others (a service transformer overloaded by its own load, no DER behind it);
  ``violation_steps``: loop steps that saw an actionable one;
- control counts (queued: from a dispatch or renewing one before its expiry; sends; by final
  status), DER flagged as ignoring controls;
- timings: ``step_ms`` (median, p95, max), ``dispatch_ms`` (median, max), ``defaults_s``;
- churn: ``superseded`` (controls replaced by a newer one for the same DER; less the
  renewals before expiry: ``superseded_by_redispatch``) with the
  direction-aware deadband (``--deadband-kw`` / ``--deadband-pct`` of rating) and, unless
  ``--no-compare``, ``without_deadband``: the same run with no deadband (its superseded
  count, controls queued, eventual delivery rate and violations left).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import Counter
from typing import Any

import numpy as np

from openderms.services.control_loop import (
    ControlLoop,
    FakeClock,
    GridState,
    InMemoryDelivery,
    LinkBehaviour,
    LoopConfig,
)
from openderms.services.control_loop.sim import Harness, SimulatedFleet
from openderms.sim.twin import build_twin


def run(args: argparse.Namespace) -> dict[str, Any]:
    t = time.perf_counter()
    twin = build_twin(args.preset)
    build_s = time.perf_counter() - t
    inj = twin.injections
    half = round(args.hours * 2)  # 15-minute steps on each side of noon
    steps = range(twin.noon_step - half, twin.noon_step + half + 1)
    net = twin.network_at(steps[0])
    rng = random.Random(args.seed)
    ids = [d.id for d in net.ders]
    ignoring = frozenset(rng.sample(ids, round(args.ignoring * len(ids))))
    clock = FakeClock(twin.timestamps[steps[0]])
    link = InMemoryDelivery(
        clock, LinkBehaviour(delay_s=args.delay_s, loss_probability=args.loss, ignoring=ignoring),
        seed=args.seed,
    )  # fmt: skip
    aggregators = {d: f"agg{i % 5}" for i, d in enumerate(ids)}
    state = GridState(twin.network, aggregators)  # noon: the worst case for the defaults
    config = LoopConfig(
        substation_id=args.preset, deadband_kw=args.deadband_kw, deadband_pct=args.deadband_pct
    )
    loop = ControlLoop(state, link, link, config)
    t = time.perf_counter()
    loop.provision_defaults(clock.now())
    defaults_s = time.perf_counter() - t
    fleet = SimulatedFleet(net, link)
    h = Harness(loop, fleet, clock)
    per_interval = max(1, round(900 / args.step_s))
    step_ms: list[float] = []
    dispatch_ms: list[float] = []
    for k in steps:
        fleet.set_available(inj.der_p_kw[k])
        fleet.set_loads(inj.load_p_kw[k], inj.load_q_kvar[k])
        state.set_loads(inj.load_p_kw[k], inj.load_q_kvar[k])
        for _ in range(per_interval):
            t = time.perf_counter()
            report = h.run(1, args.step_s)
            step_ms.append((time.perf_counter() - t) * 1e3)
            if report.plan is not None:
                dispatch_ms.append(report.plan.solve_s * 1e3)
    for _ in range(4):  # let the last retries finish inside the last interval's profile
        h.run(1, args.step_s)
    found = h.ac_violations()
    left = [v for v in found if v.key not in loop.outside_control]
    outside = [str(v) for v in found if v.key in loop.outside_control]
    rates = loop.queue.rates()["all"]
    by_agg = loop.queue.rates("aggregator")
    statuses = Counter(e.status.value for e in loop.queue.controls.values())
    flagged = {e.controls[0] for e in loop.audit.actions("not_followed")}
    return {
        "preset": args.preset,
        "n_der": len(ids),
        "loop_steps": len(h.reports),
        "step_s": args.step_s,
        "transient_loss": args.loss,
        "ignoring_share": args.ignoring,
        "delivery_rate_first_try": round(rates.first_try_rate, 4),
        "delivery_rate_eventual": round(rates.eventual_rate, 4),
        "deliverable_controls": rates.deliverable,
        "delivery_rate_eventual_by_aggregator": {
            k: round(v.eventual_rate, 4) for k, v in sorted(by_agg.items())
        },
        "violations_left": len(left),
        "violations_left_detail": [str(v) for v in left[:5]],
        "violations_outside_der_control": outside,
        "violation_steps": sum(1 for r in h.reports if r.actionable),
        "controls_queued": len(loop.queue.controls),
        "controls_from_dispatch": len(loop.audit.actions("control_queued")),
        "controls_renewed": len(loop.audit.actions("control_renewed")),
        "reverts": len(loop.audit.actions("revert")),
        "sends": loop.queue.sends,
        "send_failures": link.send_failures,
        "controls_by_status": dict(sorted(statuses.items())),
        "superseded": statuses.get("superseded", 0),
        "superseded_by_redispatch": statuses.get("superseded", 0)
        - len(loop.audit.actions("control_renewed")),
        "deadband": {"kw": args.deadband_kw, "pct_of_rating": args.deadband_pct},
        "dispatches": len(dispatch_ms),
        "ignoring_der": len(ignoring),
        "ignoring_der_found": len(flagged & ignoring),
        "flagged_wrongly": len(flagged - ignoring),
        "step_ms": {
            "median": round(statistics.median(step_ms), 1),
            "p95": round(float(np.percentile(step_ms, 95)), 1),
            "max": round(max(step_ms), 1),
        },
        "dispatch_ms": {
            "median": round(statistics.median(dispatch_ms), 1) if dispatch_ms else None,
            "max": round(max(dispatch_ms), 1) if dispatch_ms else None,
        },
        "defaults_s": round(defaults_s, 3),
        "twin_build_s": round(build_s, 2),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="small")
    p.add_argument("--json", action="store_true")
    p.add_argument("--hours", type=float, default=2.0)
    p.add_argument("--step-s", type=float, default=30.0)
    p.add_argument("--loss", type=float, default=0.10)
    p.add_argument("--ignoring", type=float, default=0.05)
    p.add_argument("--delay-s", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--deadband-kw", type=float, default=1.0)
    p.add_argument("--deadband-pct", type=float, default=10.0)
    p.add_argument("--no-compare", action="store_true")
    args = p.parse_args(argv)
    out = run(args)
    if not args.no_compare:
        base = run(argparse.Namespace(**{**vars(args), "deadband_kw": 0.0, "deadband_pct": 0.0}))
        out["without_deadband"] = {
            k: base[k]
            for k in (
                "superseded",
                "superseded_by_redispatch",
                "controls_queued",
                "controls_from_dispatch",
                "controls_renewed",
                "sends",
                "delivery_rate_eventual",
                "violations_left",
                "violation_steps",
            )
        }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(f"{k:40s} {v}")
    ok = out["delivery_rate_eventual"] >= 0.99 and out["violations_left"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
