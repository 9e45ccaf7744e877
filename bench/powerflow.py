"""Power-flow timings on a digital twin: our PGM engine vs pandapower vs OpenDSS, same run.

    .venv/bin/python bench/powerflow.py [--preset camden] [--seed 0] [--repeat 15] [--json]

All three solve the same physics: the twin at solar noon and its 96-step design day, with the
tap changers held at their present taps (pandapower has no OpenDSS-style regulator) and every
load constant-power at any voltage (pandapower's model; the twin's loads otherwise turn
constant-impedance outside 0.95-1.05 pu, as OpenDSS's do, which costs PGM extra solves: run
with --keep-load-bands to time that too). Figures:

- single: median wall time of one snapshot with a warm model (PGM: ``PgmModel.solve``;
  pandapower: ``runpp`` with numba; OpenDSS: ``Solution.Solve`` after a load change, so it must
  iterate), each from the engine's own start point.
- series: 96 steps. PGM: one batch call; pandapower: ``runpp`` per step after updating the
  load and sgen tables (its fastest loop); OpenDSS: its native daily mode with one load shape
  per load and generator (the compile of the shapes is reported apart).
- agreement: max |dV| between engines at noon (pandapower uses positive-sequence lines).

Ratios are pandapower time / PGM time (how many times faster PGM is).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from openderms.grid.engines.pgm import PgmModel
from openderms.grid.model import Network
from openderms.grid.opendss._dss import new_context
from openderms.grid.opendss.writer import build_script
from openderms.sim.twin import build_twin


def _median_s(fn: Callable[[int], object], repeat: int) -> float:
    times = []
    for k in range(repeat):
        t = time.perf_counter()
        fn(k)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_pgm(net: Network, inj: Any, repeat: int) -> dict[str, Any]:
    t = time.perf_counter()
    model = PgmModel.from_network(net)
    build_s = time.perf_counter() - t
    model.solve()  # warm
    single = _median_s(lambda _k: model.solve(), repeat)
    t = time.perf_counter()
    series = model.batch(inj.load_p_kw, inj.load_q_kvar, inj.der_p_kw, inj.der_q_kvar)
    series_s = time.perf_counter() - t
    noon = model.solve()
    v = dict(zip(noon.node_bus, noon.v_pu.tolist(), strict=True))
    return {
        "build_ms": build_s * 1e3,
        "single_ms": single * 1e3,
        "series_s": series_s,
        "series_steps": series.v_pu.shape[0],
        "v_bus": v,
        "v_max_pu": float(noon.v_pu.max()),
    }


def bench_pandapower(net: Network, inj: Any, repeat: int) -> dict[str, Any]:
    warnings.simplefilter("ignore")  # pandapower's FutureWarnings are not ours to fix
    import pandapower as pp

    from peers.pandapower_net import to_pandapower

    t = time.perf_counter()
    pnet, loads, sgens = to_pandapower(net)
    build_s = time.perf_counter() - t
    pp.runpp(pnet, numba=True)  # warm (numba compiles)
    single = _median_s(lambda _k: pp.runpp(pnet, numba=True), repeat)
    v = dict(zip(pnet.bus.name, pnet.res_bus.vm_pu.to_numpy(), strict=True))
    t = time.perf_counter()
    for k in range(inj.n_steps):
        pnet.load.loc[loads, "p_mw"] = inj.load_p_kw[k] / 1000.0
        pnet.load.loc[loads, "q_mvar"] = inj.load_q_kvar[k] / 1000.0
        pnet.sgen.loc[sgens, "p_mw"] = inj.der_p_kw[k] / 1000.0
        pnet.sgen.loc[sgens, "q_mvar"] = inj.der_q_kvar[k] / 1000.0
        pp.runpp(pnet, numba=True, init="results")
    series_s = time.perf_counter() - t
    return {"build_ms": build_s * 1e3, "single_ms": single * 1e3, "series_s": series_s, "v_bus": v}


def bench_opendss(net: Network, inj: Any, repeat: int) -> dict[str, Any]:
    script = build_script(net)
    ctx = new_context()
    t = time.perf_counter()
    ctx.Text.Commands("\n".join(script.commands))
    compile_s = time.perf_counter() - t
    c = ctx.ActiveCircuit
    c.Solution.Solve()

    def resolve(k: int) -> None:
        ctx.Text.Command = f"set loadmult={1.0 + 0.01 * (k % 2)}"
        c.Solution.Solve()

    single = _median_s(resolve, repeat)
    ctx.Text.Command = "set loadmult=1"
    c.Solution.Solve()
    names = list(c.AllNodeNames)
    mags = np.asarray(c.AllBusVmagPu)
    by_name = {v: k for k, v in script.bus.items()}
    v: dict[str, float] = {}
    for name, mag in zip(names, mags.tolist(), strict=True):
        bus = by_name.get(name.split(".")[0])
        if bus is not None:
            v[bus] = max(v.get(bus, 0.0), mag)

    t = time.perf_counter()
    cmds = _daily_shapes(script, net, inj)
    ctx.Text.Commands("\n".join(cmds))
    shapes_s = time.perf_counter() - t
    ctx.Text.Command = f"set mode=daily stepsize=15m number={inj.n_steps} hour=0"
    t = time.perf_counter()
    c.Solution.Solve()
    series_s = time.perf_counter() - t
    return {
        "compile_s": compile_s,
        "single_ms": single * 1e3,
        "series_s": series_s,
        "series_shapes_compile_s": shapes_s,
        "series_converged": bool(c.Solution.Converged),
        "v_bus": v,
    }


def _daily_shapes(script: Any, net: Network, inj: Any) -> list[str]:
    """One 96-point load shape per load and generator: OpenDSS's own way to run a day."""
    cmds = []

    def shape(name: str, p: np.ndarray, q: np.ndarray, base_p: float, base_q: float) -> str:
        pm = " ".join(f"{x:.6g}" for x in p / base_p)
        qm = " ".join(f"{x:.6g}" for x in q / base_q)
        return f"New Loadshape.{name} npts={len(p)} minterval=15 mult=({pm}) qmult=({qm})"

    for j, ld in enumerate(net.loads):
        name = script.load[ld.id]
        bp, bq = ld.p_kw or 1.0, ld.q_kvar or 1.0
        cmds.append(shape(f"ls_{name}", inj.load_p_kw[:, j], inj.load_q_kvar[:, j], bp, bq))
        cmds.append(f"Load.{name}.daily=ls_{name}")
    for j, d in enumerate(net.ders):
        name = script.der[d.id]
        bp, bq = d.p_kw or 1.0, d.q_kvar or 1.0
        cmds.append(f"Generator.{name}.kw={bp!r}")
        cmds.append(f"Generator.{name}.kvar={bq!r}")
        cmds.append(shape(f"gs_{name}", inj.der_p_kw[:, j], inj.der_q_kvar[:, j], bp, bq))
        cmds.append(f"Generator.{name}.daily=gs_{name}")
    return cmds


def max_dv(a: dict[str, float], b: dict[str, float]) -> float:
    common = a.keys() & b.keys()
    return max(abs(a[k] - b[k]) for k in common)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="camden")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--keep-load-bands", action="store_true", help="loads keep v_min/max_pu")
    args = ap.parse_args()

    twin = build_twin(args.preset, args.seed)
    net = dataclasses.replace(twin.network, regulators=())  # fixed taps: same physics for all
    if not args.keep_load_bands:
        loads = tuple(dataclasses.replace(ld, v_min_pu=0.5, v_max_pu=1.5) for ld in net.loads)
        net = dataclasses.replace(net, loads=loads)
    inj = twin.injections
    pgm = bench_pgm(net, inj, args.repeat)
    pdp = bench_pandapower(net, inj, max(3, args.repeat // 3))
    dss = bench_opendss(net, inj, args.repeat)
    out = {
        "preset": args.preset,
        "buses": len(net.buses),
        "ders": len(net.ders),
        "loads": len(net.loads),
        "steps": inj.n_steps,
        "load_bands": "kept" if args.keep_load_bands else "constant power at any voltage",
        "pgm_single_ms": round(pgm["single_ms"], 2),
        "pgm_series_s": round(pgm["series_s"], 3),
        "pgm_build_ms": round(pgm["build_ms"], 1),
        "pandapower_single_ms": round(pdp["single_ms"], 2),
        "pandapower_series_s": round(pdp["series_s"], 3),
        "opendss_single_ms": round(dss["single_ms"], 2),
        "opendss_series_s": round(dss["series_s"], 3),
        "opendss_compile_s": round(dss["compile_s"], 3),
        "opendss_series_shapes_compile_s": round(dss["series_shapes_compile_s"], 3),
        "ratio_vs_pandapower_single": round(pdp["single_ms"] / pgm["single_ms"], 1),
        "ratio_vs_pandapower_series": round(pdp["series_s"] / pgm["series_s"], 1),
        "ratio_vs_opendss_single": round(dss["single_ms"] / pgm["single_ms"], 1),
        "ratio_vs_opendss_series": round(dss["series_s"] / pgm["series_s"], 1),
        "max_abs_dv_pu_pgm_vs_opendss": float(f"{max_dv(pgm['v_bus'], dss['v_bus']):.2e}"),
        "max_abs_dv_pu_pgm_vs_pandapower": float(f"{max_dv(pgm['v_bus'], pdp['v_bus']):.2e}"),
        "noon_v_max_pu": round(pgm["v_max_pu"], 4),
    }
    if args.json:
        print(json.dumps(out))
        return
    width = max(len(k) for k in out)
    for key, value in out.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
