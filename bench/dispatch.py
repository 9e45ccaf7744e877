"""Dispatch after a switching event on a digital twin: heuristic, AC-checked OPF, pandapower.

    .venv/bin/python bench/dispatch.py [--preset camden] [--json] [--repeat 3]
        [--open F1_CB] [--close TIE_F7_F1] [--pandapower-timeout 120] [--no-pandapower]

At solar noon the feeder-head breaker ``--open`` opens and the tie ``--close`` closes, so the
whole feeder is carried from its neighbour's end (overvoltage, overloads). Timed, per repeat
(medians reported, each repeat starts again from the switching):

- ``linearise_ms``: topology and LinDistFlow model of the new switch states;
- ``ac_base_ms``: the AC power flow right after switching (fleet uncontrolled);
- ``heuristic_ms``: tier 1, given that AC flow and the LinDistFlow model;
- ``opf_s``: tier 2 including its AC checks *and* the base AC flow (``opf_phases_ms``);
- ``event_to_verified_plan_s``: switching applied to the model through the AC-checked plan.

``heuristic_ac_violations_after_taps_held``: an AC check of the tier-1 plan with the tap
changers where they were (it acts within seconds; the OPF's checks let them move, as they
will a minute later). ``ac_violations_after`` counts the violations an AC power flow still
shows with the OPF plan applied that dispatchable DER could act on;
``ac_violations_outside_der_control`` lists the rest (branches with no dispatchable DER behind
them, e.g. a service transformer overloaded by its own load: no dispatch can change its flow).

pandapower's AC OPF (``runopp``, interior point) runs on the same switched case in a child
process with a time limit; its network comes from ``bench/peers/pandapower_net.py`` (tap
changers at their present positions) with every DER a controllable static generator.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue as queue_module
import statistics
import sys
import time
from collections import Counter
from typing import Any

import numpy as np

from openderms.control import (
    DispatchOptions,
    Fleet,
    LinearGrid,
    SwitchingAction,
    detect_violations,
    dispatch_heuristic,
    dispatch_opf,
    pgm_ac,
)
from openderms.grid.engines.pgm_model import PgmModel
from openderms.sim.twin import build_twin

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/peers


def _quiet_highs_banner() -> None:
    """HiGHS prints a banner to fd 1 on its first model: send it to stderr (keeps --json clean)."""
    import highspy

    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _event(model: PgmModel, fleet: Fleet, action: SwitchingAction) -> dict[str, Any]:
    """One switching event: switch, linearise, base AC, heuristic, OPF. Times and plans."""
    opt = DispatchOptions()
    t0 = time.perf_counter()
    switched = model.with_switch_states(action.states())
    net = switched.net
    t1 = time.perf_counter()
    lg = LinearGrid.build(net)
    t2 = time.perf_counter()
    ac = pgm_ac(switched, regulate=opt.regulate)
    base = ac(fleet.p_present_kw, fleet.q_present_kvar)
    t3 = time.perf_counter()
    quick = dispatch_heuristic(net, fleet, base, lg, options=opt)
    t4 = time.perf_counter()
    plan = dispatch_opf(net, fleet, lg, ac, options=opt, base=base)
    t5 = time.perf_counter()
    return {
        "net": net,
        "model": switched,
        "base": base,
        "heuristic": quick,
        "plan": plan,
        "switch_ms": (t1 - t0) * 1e3,
        "linearise_ms": (t2 - t1) * 1e3,
        "ac_base_ms": (t3 - t2) * 1e3,
        "heuristic_ms": (t4 - t3) * 1e3,
        "opf_s": (t5 - t4) + (t3 - t2),
        "event_to_verified_plan_s": (t1 - t0) + (t2 - t1) + (t3 - t2) + (t5 - t4),
        "opf_phases_ms": {k: v * 1e3 for k, v in plan.phase_s.items()}
        | {"ac_base": (t3 - t2) * 1e3},
    }


def _pandapower_child(
    preset: str, seed: int, states: dict[str, bool], queue: mp.Queue[dict[str, Any]]
) -> None:
    """Build the same switched case in pandapower and run its AC OPF; report to ``queue``
    (a ``started`` message when ``runopp`` begins, then the outcome)."""
    import warnings

    warnings.simplefilter("ignore")
    import pandapower as pp

    from peers.pandapower_net import to_pandapower

    twin = build_twin(preset, seed)
    net = PgmModel.from_network(twin.network).with_switch_states(states).net
    pnet, _, sgens = to_pandapower(net)
    fleet = Fleet.from_network(net)
    s = fleet.s_kva / 1000.0
    p_max, p_min = fleet.p_max_kw / 1000.0, fleet.p_min_kw / 1000.0
    q_max = np.sqrt(np.maximum(s**2 - np.maximum(p_max**2, p_min**2), 0.0))
    pnet.sgen.loc[sgens, "controllable"] = True
    pnet.sgen.loc[sgens, "max_p_mw"] = p_max
    pnet.sgen.loc[sgens, "min_p_mw"] = p_min
    pnet.sgen.loc[sgens, "max_q_mvar"] = q_max
    pnet.sgen.loc[sgens, "min_q_mvar"] = -q_max
    storage = fleet.is_storage
    for k, idx in enumerate(sgens.tolist()):  # maximise export: curtailment costs
        pp.create_poly_cost(pnet, idx, "sgen", cp1_eur_per_mw=-0.3 if storage[k] else -1.0)
    limits = {b.id: (b.v_min_pu, b.v_max_pu) for b in net.buses}
    names = pnet.bus["name"].tolist()
    pnet.bus["min_vm_pu"] = [limits.get(n, (0.9, 1.1))[0] for n in names]
    pnet.bus["max_vm_pu"] = [limits.get(n, (0.9, 1.1))[1] for n in names]
    pnet.line["max_loading_percent"] = 100.0
    pnet.trafo["max_loading_percent"] = 100.0
    queue.put({"started": True})
    t = time.perf_counter()
    try:
        pp.runopp(pnet, numba=True)
        queue.put({"status": "converged", "s": time.perf_counter() - t})
    except Exception as exc:  # pandapower raises OPFNotConverged and others
        name = type(exc).__name__
        queue.put({"status": f"{name} after {time.perf_counter() - t:.1f} s", "s": None})


def _pandapower(
    preset: str, seed: int, states: dict[str, bool], timeout_s: float
) -> dict[str, Any]:
    """pandapower's AC OPF in a child process, killed ``timeout_s`` after ``runopp`` starts."""
    ctx = mp.get_context("spawn")
    queue: mp.Queue[dict[str, Any]] = ctx.Queue()
    proc = ctx.Process(target=_pandapower_child, args=(preset, seed, states, queue))
    proc.start()
    try:
        queue.get(timeout=300.0)  # building the twin and the pandapower network
        out = queue.get(timeout=timeout_s)
    except queue_module.Empty:
        out = {"status": f"timeout after {timeout_s:.0f} s", "s": None}
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
    return {"pandapower_opf_status": out["status"], "pandapower_opf_s": out["s"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="camden")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--open", dest="open_switch", default="F1_CB")
    ap.add_argument("--close", dest="close_tie", default="TIE_F7_F1")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pandapower-timeout", type=float, default=120.0)
    ap.add_argument("--no-pandapower", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    _quiet_highs_banner()

    twin = build_twin(args.preset, args.seed)
    net = twin.network  # solar noon
    model = PgmModel.from_network(net)
    fleet = Fleet.from_network(net)
    action = SwitchingAction.transfer(args.open_switch, args.close_tie)
    _event(model, fleet, SwitchingAction(()))  # warm-up: imports, first-call costs
    runs = [_event(model, fleet, action) for _ in range(max(args.repeat, 1))]
    last = runs[-1]
    plan, quick = last["plan"], last["heuristic"]
    check = last["model"].solve(
        der_p_kw=plan.der_p_kw, der_q_kvar=plan.der_q_kvar, error_tolerance=1e-6
    )
    after = detect_violations(check, last["net"])
    outside = {v.key for v in plan.outside_control}
    quick_after = detect_violations(  # tier 1 acts within seconds, before tap changers move
        last["model"].solve(
            der_p_kw=quick.der_p_kw,
            der_q_kvar=quick.der_q_kvar,
            regulate=False,
            error_tolerance=1e-6,
        ),
        last["net"],
    )

    def median(key: str) -> float:
        return float(statistics.median(r[key] for r in runs))

    out: dict[str, Any] = {
        "preset": args.preset,
        "buses": len(net.buses),
        "der": len(net.ders),
        "event": action.description + " at solar noon",
        "repeats": len(runs),
        "violations_before": len(plan.violations_before),
        "violations_before_by_kind": dict(Counter(v.kind for v in plan.violations_before)),
        "linearise_ms": round(median("linearise_ms"), 1),
        "ac_base_ms": round(median("ac_base_ms"), 1),
        "heuristic_ms": round(median("heuristic_ms"), 1),
        "heuristic_ms_min": round(min(r["heuristic_ms"] for r in runs), 1),
        "heuristic_controls": len(quick.controls),
        "heuristic_ac_violations_after_taps_held": sum(v.key not in outside for v in quick_after),
        "opf_s": round(median("opf_s"), 3),
        "opf_s_min": round(min(r["opf_s"] for r in runs), 3),
        "opf_phases_ms": {k: round(v, 1) for k, v in last["opf_phases_ms"].items()},
        "event_to_verified_plan_s": round(median("event_to_verified_plan_s"), 3),
        "iterations": plan.iterations,
        "ac_violations_after": sum(v.key not in outside for v in after),
        "ac_violations_outside_der_control": sorted(outside),
        "controls": len(plan.controls),
        "curtailed_kw": round(plan.curtailed_kw, 1),
        "storage_shifted_kw": round(plan.shifted_kw, 1),
        "q_used_kvar": round(plan.q_used_kvar, 1),
        "objective": round(plan.objective, 3),
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    if not args.no_pandapower:
        out |= _pandapower(args.preset, args.seed, action.states(), args.pandapower_timeout)
    if args.json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            print(f"{key:<36} {value}")


if __name__ == "__main__":
    main()
