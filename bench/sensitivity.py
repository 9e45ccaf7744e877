"""Sensitivity timings and accuracy on a digital twin: LinDistFlow path matrix vs exact.

    .venv/bin/python bench/sensitivity.py [--preset camden] [--exact-buses 200] [--json]

fast: dV/dP and dV/dQ at every energised bus for every bus with a DER (LinDistFlow).
exact: batch finite differences (one PGM batch, taps held) for a seeded sample of the DER
buses, every bus monitored; the error of fast against exact is on that sample.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from openderms.grid.sensitivity import (
    compare,
    der_buses,
    energised_buses,
    finite_difference,
    lindistflow,
)
from openderms.grid.topology import derive_topology
from openderms.sim.twin import build_twin


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="camden")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--exact-buses", type=int, default=200)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    net = build_twin(args.preset, args.seed).network
    t = time.perf_counter()
    topo = derive_topology(net)
    topology_ms = (time.perf_counter() - t) * 1e3
    monitored = energised_buses(topo)
    injection = der_buses(net)
    t = time.perf_counter()
    fast = lindistflow(net, monitored, injection, topo)
    fast_s = time.perf_counter() - t

    rng = np.random.default_rng(args.seed)
    k = min(args.exact_buses, len(injection))
    sample = tuple(injection[i] for i in sorted(rng.choice(len(injection), k, replace=False)))
    t = time.perf_counter()
    exact = finite_difference(net, monitored, sample, engine="pgm")
    exact_s = time.perf_counter() - t
    cols = [injection.index(b) for b in sample]
    fast_sample = lindistflow(net, monitored, sample, topo)
    assert np.allclose(fast_sample.dv_dp_pu_per_kw, fast.dv_dp_pu_per_kw[:, cols])
    err = compare(fast_sample, exact)
    out = {
        "preset": args.preset,
        "monitored_buses": len(monitored),
        "injection_buses": len(injection),
        "topology_ms": round(topology_ms, 1),
        "fast_s": round(fast_s, 3),
        "exact_buses": k,
        "exact_s": round(exact_s, 2),
        "exact_s_per_bus_ms": round(exact_s / k * 1e3, 2),
        "rel_error_dv_dp": round(err.rel_error_dv_dp, 4),
        "rel_error_dv_dq": round(err.rel_error_dv_dq, 4),
        "max_abs_error_dv_dp_pu_per_mw": round(err.max_abs_error_dv_dp_pu_per_kw * 1e3, 5),
    }
    if args.json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            print(f"{key:<32} {value}")


if __name__ == "__main__":
    main()
