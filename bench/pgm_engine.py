"""Timings of the power-grid-model engine on a digital-twin-sized feeder (prints figures).

A random 66/12.47 kV feeder (8 feeders, ~4,000 buses and lines, 2,000 loads, 10,000 DER; with
transposed and with untransposed lines) and, when present, the camden digital twin (two LTCs,
loads that leave their voltage band): conversion, a snapshot, a 96-step series (taps carried
over, and independent snapshots) and a switching variant.

    .venv/bin/python bench/pgm_engine.py [n_buses] [n_ders]
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np

from openderms.grid.engines.pgm import PgmEngine, PgmModel
from openderms.grid.model import (
    Bus,
    Capacitor,
    Der,
    Line,
    Load,
    Network,
    Source,
    Switch,
    Transformer,
    Winding,
)
from openderms.grid.powerflow import InjectionSeries

ABC = (1, 2, 3)


def _seq(z1: float, z0: float) -> tuple[tuple[float, ...], ...]:
    s, m = (2 * z1 + z0) / 3, (z0 - z1) / 3
    return tuple(tuple(s if i == j else m for j in range(3)) for i in range(3))


def feeder(n_buses: int = 4000, n_ders: int = 10_000, *, untransposed: bool = False) -> Network:
    """A random radial network of ``n_buses`` 12.47 kV buses under one substation."""
    rng = np.random.default_rng(7)
    v12 = 12.47 / math.sqrt(3)
    r, x, c = _seq(0.25, 0.6), _seq(0.45, 1.3), _seq(11.0, 5.0)
    if untransposed:
        x = ((0.70, 0.30, 0.25), (0.30, 0.70, 0.30), (0.25, 0.30, 0.70))
    buses = [Bus("src", 66 / math.sqrt(3)), Bus("sub", v12)]
    n_feeders = 8
    switches, lines = [], []
    heads = []
    for f in range(n_feeders):
        buses.append(Bus(f"h{f}", v12))
        switches.append(Switch(f"brk{f}", "sub", f"h{f}", ABC, ABC, True, ampacity_a=600))
        heads.append(f"h{f}")
    names = list(heads)
    per_feeder: list[list[str]] = [[h] for h in heads]
    for i in range(n_buses - len(buses)):
        members = per_feeder[i % n_feeders]
        parent = members[int(rng.integers(0, len(members)))]  # random recursive tree
        b = f"b{i}"
        buses.append(Bus(b, v12))
        km = float(rng.uniform(0.05, 0.3))
        lines.append(Line(f"l{i}", parent, b, ABC, ABC, km, r, x, c, 400.0))
        members.append(b)
        names.append(b)
    loads = [
        Load(f"ld{i}", names[int(k)], ABC, "wye", float(rng.uniform(5, 20)), 2.0, 12.47)
        for i, k in enumerate(rng.integers(len(heads), len(names), 2000))
    ]
    ders = [
        Der(f"der{i}", names[int(k)], ABC, "pv", float(rng.uniform(1, 5)), 0.0, 6.0, 6.5, 12.47)
        for i, k in enumerate(rng.integers(len(heads), len(names), n_ders))
    ]
    tr = Transformer(
        "tsub",
        3,
        (
            Winding("src", ABC, "delta", 66.0, 40000.0, 0.3),
            Winding("sub", ABC, "wye", 12.47, 40000.0, 0.3),
        ),
        (10.0,),
        kind="substation",
    )
    caps = tuple(
        Capacitor(f"cap{f}", names[100 + f * 300], ABC, "wye", 600, 12.47) for f in range(8)
    )
    return Network(
        name="bench",
        buses=tuple(buses),
        sources=(Source("grid", "src", 66.0, r1_ohm=0.3, x1_ohm=2.0, r0_ohm=0.6, x0_ohm=4.0),),
        lines=tuple(lines),
        switches=tuple(switches),
        transformers=(tr,),
        capacitors=caps,
        loads=tuple(loads),
        ders=tuple(ders),
    )


def _best(f: object, repeat: int = 5) -> float:
    assert callable(f)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def _report(label: str, net: Network, inj: InjectionSeries, switch_id: str) -> None:
    print(f"--- {label}: {net.summary()}")
    build = _best(lambda: PgmModel.from_network(net), 3)
    model = PgmModel.from_network(net)
    res = model.solve()
    wall = _best(model.solve)
    kind = "symmetric" if model.symmetric else "asymmetric"
    print(f"convert + build          {build * 1e3:8.1f} ms   ({kind} calculation)")
    print(f"snapshot (PGM only)      {res.solve_s * 1e3:8.1f} ms   wall {wall * 1e3:.1f} ms")
    v_lo, v_hi = res.v_pu[res.v_pu > 0].min(), res.v_pu.max()
    print(f"   v {v_lo:.4f}..{v_hi:.4f} pu, P_sub {res.substation_p_kw:.0f} kW")
    engine = PgmEngine()
    engine.solve_series(net, inj)
    for taps in ("chronological", "independent"):
        t0 = time.perf_counter()
        if taps == "chronological":
            series = engine.solve_series(net, inj)
        else:
            series = model.batch(inj.load_p_kw, inj.load_q_kvar, inj.der_p_kw, inj.der_q_kvar)
        wall = time.perf_counter() - t0
        print(
            f"{inj.n_steps}-step series {taps:13s} PGM {series.solve_s * 1e3:7.1f} ms"
            f"   wall {wall * 1e3:.1f} ms"
        )
    t_sw = _best(lambda: model.with_switch_states({switch_id: False}).solve(), 3)
    print(f"open {switch_id} + solve {t_sw * 1e3:10.1f} ms")


def _day(net: Network, steps: int = 96) -> InjectionSeries:
    shape = np.sin(np.linspace(0, np.pi, steps))[:, None]
    return InjectionSeries(
        load_p_kw=np.array([ld.p_kw for ld in net.loads]) * (0.6 + 0.4 * shape),
        load_q_kvar=np.array([ld.q_kvar for ld in net.loads]) * np.ones((steps, 1)),
        der_p_kw=np.array([d.p_kw for d in net.ders]) * shape,
        der_q_kvar=np.zeros((steps, len(net.ders))),
    )


def main() -> None:
    n_buses = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    n_ders = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    for untransposed in (False, True):
        net = feeder(n_buses, n_ders, untransposed=untransposed)
        lines = "untransposed" if untransposed else "transposed"
        _report(f"random feeder, {lines} lines", net, _day(net), "brk3")
    try:
        from openderms.sim.twin.build import build_twin
    except ImportError:
        return
    twin = build_twin("camden")
    breaker = next(s.id for s in twin.network.switches if s.closed and s.kind == "breaker")
    _report(
        "camden twin (LTCs, OpenDSS load laws)", twin.network, twin.profiles.injections, breaker
    )


if __name__ == "__main__":
    main()
