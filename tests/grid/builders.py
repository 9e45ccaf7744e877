"""Small hand-built networks for grid tests (three-phase, balanced)."""

from __future__ import annotations

from openderms.grid.model import (
    Bus,
    Der,
    Feeder,
    Line,
    Load,
    Network,
    Source,
    Switch,
    Transformer,
    Winding,
)

ABC = (1, 2, 3)
R = ((0.30, 0.10, 0.10), (0.10, 0.30, 0.10), (0.10, 0.10, 0.30))
X = ((0.70, 0.30, 0.25), (0.30, 0.70, 0.30), (0.25, 0.30, 0.70))
C = ((10.0, -2.0, -1.0), (-2.0, 10.0, -2.0), (-1.0, -2.0, 10.0))
V12_LN = 12.47 / 3**0.5
V66_LN = 66.0 / 3**0.5
VLV_LN = 0.48 / 3**0.5


def line(lid: str, a: str, b: str, km: float = 1.0, amps: float = 400.0) -> Line:
    return Line(lid, a, b, ABC, ABC, km, R, X, C, amps)


def two_feeders() -> Network:
    """Substation 66/12.47 kV, two feeders with a normally open tie, one service transformer."""
    buses = [Bus("src", V66_LN), Bus("sub", V12_LN)]
    buses += [Bus(f"f1_{i}", V12_LN) for i in range(3)]
    buses += [Bus(f"f2_{i}", V12_LN) for i in range(2)]
    buses += [Bus("lv1", VLV_LN)]
    tr_sub = Transformer(
        "t_sub",
        3,
        (
            Winding("src", ABC, "delta", 66.0, 20000.0, 0.5),
            Winding("sub", ABC, "wye", 12.47, 20000.0, 0.5),
        ),
        (10.0,),
        kind="substation",
    )
    tr_svc = Transformer(
        "t_svc1",
        3,
        (
            Winding("f1_1", ABC, "delta", 12.47, 150.0, 0.8),
            Winding("lv1", ABC, "wye", 0.48, 150.0, 0.8),
        ),
        (3.0,),
        kind="service",
    )
    switches = (
        Switch("brk1", "sub", "f1_0", ABC, ABC, True, kind="breaker"),
        Switch("brk2", "sub", "f2_0", ABC, ABC, True, kind="breaker"),
        Switch("tie12", "f1_2", "f2_1", ABC, ABC, False, normally_closed=False, kind="tie"),
    )
    lines = (
        line("l1a", "f1_0", "f1_1"),
        line("l1b", "f1_1", "f1_2"),
        line("l2a", "f2_0", "f2_1"),
    )
    loads = (
        Load("ld1", "f1_2", ABC, "wye", 800.0, 200.0, 12.47),
        Load("ld2", "f2_1", ABC, "wye", 600.0, 150.0, 12.47),
        Load("ld_lv", "lv1", ABC, "wye", 60.0, 10.0, 0.48),
    )
    ders = (
        Der("pv1", "lv1", ABC, "pv", 80.0, 0.0, 100.0, 110.0, 0.48),
        Der("bat1", "lv1", ABC, "battery", 0.0, 0.0, 50.0, 60.0, 0.48, p_min_kw=-50.0, e_kwh=100),
        Der("pv2", "f2_1", ABC, "pv", 300.0, 0.0, 400.0, 420.0, 12.47),
    )
    return Network(
        name="two-feeders",
        buses=tuple(buses),
        sources=(Source("grid", "src", 66.0, 1.0, r1_ohm=0.5, x1_ohm=2.0, r0_ohm=1, x0_ohm=4),),
        lines=lines,
        switches=switches,
        transformers=(tr_sub, tr_svc),
        loads=loads,
        ders=ders,
        feeders=(Feeder("F1", "brk1"), Feeder("F2", "brk2")),
    )
