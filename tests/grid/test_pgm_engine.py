"""The power-grid-model engine: against OpenDSS, switching, what it refuses, batches, balance.

The networks are built here by hand: a 66 kV source, a 66/12.47 kV delta-wye substation
transformer, a breaker, a 12.47 kV line chain with loads, DER and a capacitor, and variants.
OpenDSS results come from ``pgm_dss_reference`` (an independent script writer using dss-python)
and, once it exists, from the project's own OpenDSS engine.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openderms.errors import (
    EngineUnsupportedError,
    NotConvergedError,
    PowerFlowError,
    UnknownElementError,
)
from openderms.grid.engines.pgm import PgmEngine, PgmModel
from openderms.grid.model import (
    Bus,
    Capacitor,
    Conn,
    Der,
    Line,
    Load,
    LoadModel,
    Matrix,
    Network,
    Reactor,
    Regulator,
    Source,
    Switch,
    Transformer,
    Winding,
    with_switch_state,
)
from openderms.grid.powerflow import InjectionSeries, PowerFlowResult, pick_engine
from tests.grid import pgm_dss_reference as dss

ABC = (1, 2, 3)
V12_LN = 12.47 / math.sqrt(3)
V66_LN = 66.0 / math.sqrt(3)


def seq_matrix(z1: float, z0: float) -> Matrix:
    """A transposed (balanced) 3x3 matrix from sequence values."""
    s, m = (2 * z1 + z0) / 3, (z0 - z1) / 3
    return tuple(tuple(s if i == j else m for j in range(3)) for i in range(3))


R_T, X_T, C_T = seq_matrix(0.25, 0.6), seq_matrix(0.45, 1.3), seq_matrix(11.0, 5.0)
R_U = ((0.30, 0.10, 0.10), (0.10, 0.30, 0.10), (0.10, 0.10, 0.30))
X_U = ((0.70, 0.30, 0.25), (0.30, 0.70, 0.30), (0.25, 0.30, 0.70))
C_U = ((10.0, -2.0, -1.0), (-2.0, 10.0, -2.0), (-1.0, -2.0, 10.0))


def feeder(
    n: int = 10,
    *,
    untransposed: bool = False,
    frequency_hz: float = 60.0,
    der_kw: float = 200.0,
    tap2: float = 1.0,
    imag_pct: float = 0.0,
    model: LoadModel = "constant_power",
    conn: Conn = "wye",
    regulator: Regulator | None = None,
) -> Network:
    """Source - 66/12.47 kV Dyn substation - breaker - ``n`` 1.2 km line sections."""
    buses = [Bus("src", V66_LN), Bus("sub", V12_LN), Bus("f0", V12_LN)]
    buses += [Bus(f"n{i}", V12_LN) for i in range(1, n + 1)]
    tr = Transformer(
        "tsub",
        3,
        (
            Winding("src", ABC, "delta", 66.0, 20000.0, 0.4),
            Winding("sub", ABC, "wye", 12.47, 20000.0, 0.4, tap_pu=tap2),
        ),
        (8.0,),
        noload_loss_pct=imag_pct / 4,
        imag_pct=imag_pct,
        kind="substation",
    )
    r, x, c = (R_U, X_U, C_U) if untransposed else (R_T, X_T, C_T)
    lines = tuple(
        Line(f"l{i}", "f0" if i == 1 else f"n{i - 1}", f"n{i}", ABC, ABC, 1.2, r, x, c, 400.0)
        for i in range(1, n + 1)
    )
    zip_ = (0.3, 0.3, 0.4, 0.5, 0.2, 0.3) if model == "zip" else ()
    loads = tuple(
        Load(f"ld{i}", f"n{i}", ABC, conn, 300.0 + 10 * i, 90.0, 12.47, model, zip_)
        for i in range(1, n + 1)
    )
    ders = tuple(
        Der(f"pv{i}", f"n{i}", ABC, "pv", der_kw, 0.0, 500.0, 550.0, 12.47)
        for i in range(2, n + 1, 3)
    )
    return Network(
        name="chain",
        frequency_hz=frequency_hz,
        buses=tuple(buses),
        sources=(Source("grid", "src", 66.0, r1_ohm=0.5, x1_ohm=2.5, r0_ohm=1.0, x0_ohm=5.0),),
        lines=lines,
        switches=(Switch("brk", "sub", "f0", ABC, ABC, True, kind="breaker"),),
        transformers=(tr,),
        regulators=() if regulator is None else (regulator,),
        capacitors=(Capacitor("c1", f"n{n // 2}", ABC, "wye", 600.0, 12.47),),
        loads=loads,
        ders=ders,
    )


def with_extras(net: Network, svc_lv_kva: float = 300.0, tert_conn: Conn = "delta") -> Network:
    """Add a 3-winding transformer (unequal kVA, delta tertiary with a ZIP load), series and
    shunt reactors, a delta capacitor and a service transformer (unequal kVA by default:
    impedances are on winding 1's kVA, as OpenDSS takes them)."""
    t3 = Transformer(
        "t3",
        3,
        (
            Winding("n3", ABC, "wye", 12.47, 3000.0, 0.5),
            Winding("lv", ABC, "wye", 0.48, 2000.0, 0.7),
            Winding("tert", ABC, "delta", 4.16, 1000.0, 0.9),
        ),
        (6.0, 9.0, 4.0),
        imag_pct=1.0,
        noload_loss_pct=0.3,
    )
    svc = Transformer(
        "tsvc",
        3,
        (
            Winding("n7", ABC, "delta", 12.47, 500.0, 0.6),
            Winding("lv2", ABC, "wye", 0.416, svc_lv_kva, 0.6, tap_pu=0.975),
        ),
        (4.0,),
    )
    buses = (
        Bus("lv", 0.48 / math.sqrt(3)),
        Bus("tert", 4.16 / math.sqrt(3)),
        Bus("lv2", 0.416 / math.sqrt(3)),
        Bus("n11", V12_LN),
    )
    zip_ = (0.3, 0.3, 0.4, 0.5, 0.2, 0.3)
    loads = (
        Load("ldlv", "lv", ABC, "wye", 800.0, 200.0, 0.48),
        Load("ldt", "tert", ABC, tert_conn, 400.0, 100.0, 4.16, "zip", zip_),
        Load("ldlv2", "lv2", ABC, "wye", 150.0, 40.0, 0.416, "constant_current"),
        Load("ld11", "n11", ABC, "wye", 200.0, 50.0, 12.47, "constant_impedance"),
    )
    reactors = (
        Reactor("xs", "n10", ABC, 0.2, 1.5, bus2="n11", ampacity_a=300.0),
        Reactor("xsh", "n4", ABC, 10.0, 400.0),
        Reactor("xshd", "n6", ABC, 20.0, 900.0, conn="delta"),
    )
    return dataclasses.replace(
        net,
        buses=net.buses + buses,
        transformers=(*net.transformers, t3, svc),
        loads=net.loads + loads,
        reactors=reactors,
        capacitors=(*net.capacitors, Capacitor("cd", "n8", ABC, "delta", 300.0, 12.47)),
    )


def regulator(
    v_set_v: float = 122.0, band_v: float = 2.0, r_v: float = 0.0, x_v: float = 0.0
) -> Regulator:
    """A ganged regulator on the substation transformer's 12.47 kV winding (PT 60:1)."""
    return Regulator("reg", "tsub", 2, v_set_v, band_v, 60.0, 600.0, r_v, x_v)


def with_switch_impedance(net: Network, r_ohm: float, x_ohm: float) -> Network:
    """Every switch with this series impedance per phase."""
    switches = tuple(dataclasses.replace(sw, r_ohm=r_ohm, x_ohm=x_ohm) for sw in net.switches)
    return dataclasses.replace(net, switches=switches)


def line_regulator(pt_phase: int, v_set_v: float = 121.0) -> Network:
    """An untransposed feeder with a wye-wye line regulator between n5 and n6 (narrow band),
    so the monitored phase (1..3, -1 max, -2 min) changes the tap it settles on."""
    net = feeder(untransposed=True)
    tr = Transformer(
        "treg",
        3,
        (
            Winding("n5", ABC, "wye", 12.47, 5000.0, 0.05),
            Winding("n6", ABC, "wye", 12.47, 5000.0, 0.05),
        ),
        (0.5,),
        kind="regulator",
    )
    reg = Regulator("lreg", "treg", 2, v_set_v, 0.4, 60.0, 300.0, pt_phase=pt_phase)
    return dataclasses.replace(
        net,
        lines=tuple(ln for ln in net.lines if ln.id != "l6"),
        transformers=(*net.transformers, tr),
        regulators=(reg,),
    )


def max_dv(r: PowerFlowResult, ref: dss.DssResult) -> float:
    """Largest |ΔV| (pu) over the nodes."""
    return float(max(abs(v - ref.v_pu[n.lower()]) for n, v in zip(r.node_ids, r.v_pu, strict=True)))


def max_dangle(r: PowerFlowResult, ref: dss.DssResult) -> float:
    """Largest angle difference (degrees) over the energised nodes."""
    return float(
        max(
            abs((a - ref.v_angle_deg[n.lower()] + 180.0) % 360.0 - 180.0)
            for n, a, v in zip(r.node_ids, r.v_angle_deg, r.v_pu, strict=True)
            if v > 0
        )
    )


CASES: dict[str, Callable[[], Network]] = {
    "balanced-60hz": feeder,
    "balanced-50hz": lambda: feeder(frequency_hz=50.0),
    "untransposed-asymmetric": lambda: feeder(untransposed=True),
    "fixed-tap": lambda: feeder(tap2=1.025),
    "core-losses": lambda: feeder(imag_pct=1.0),
    "z-loads": lambda: feeder(model="constant_impedance"),
    "i-loads": lambda: feeder(model="constant_current"),
    "zip-loads": lambda: feeder(model="zip"),
    "delta-loads": lambda: feeder(conn="delta"),
    "reverse-flow": lambda: feeder(der_kw=2000.0),
    "switch-impedance": lambda: with_switch_impedance(feeder(), 0.02, 0.05),
    "extras": lambda: with_extras(feeder()),
    "regulator": lambda: feeder(regulator=regulator()),
    "regulator-ldc": lambda: feeder(regulator=regulator(122.0, 2.0, 3.0, 6.0)),
    "regulator-narrow-band": lambda: feeder(regulator=regulator(126.0, 1.0, 5.0, 8.0)),
    "regulator-buck": lambda: feeder(regulator=regulator(118.0)),
    "regulator-reverse-flow": lambda: feeder(der_kw=3200.0, regulator=regulator(122.0, 3.0)),
    "regulator-asymmetric": lambda: feeder(untransposed=True, regulator=regulator(123.0, 1.5)),
    "regulator-core-losses": lambda: feeder(imag_pct=2.0, regulator=regulator(124.0)),
    # OpenDSS settles this line regulator on 1.04375 / 1.03125 / 1.03125 / 1.04375
    "line-regulator-phase-a": lambda: line_regulator(1),
    "line-regulator-phase-c": lambda: line_regulator(3),
    "line-regulator-max-phase": lambda: line_regulator(-1),
    "line-regulator-min-phase": lambda: line_regulator(-2),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_opendss(case: str) -> None:
    net = CASES[case]()
    res = PgmEngine().solve(net)
    ref = dss.solve(net)
    assert max_dv(res, ref) <= 1e-6  # measured: 1.6e-7 at worst
    assert max_dangle(res, ref) <= 1e-4
    # OpenDSS's own books do not balance to better than ~0.1 kW here (KCL at the transformer)
    assert res.substation_p_kw == pytest.approx(ref.substation_p_kw, rel=1e-4, abs=0.2)
    assert res.substation_q_kvar == pytest.approx(ref.substation_q_kvar, rel=1e-3, abs=0.5)
    if not net.reactors:  # OpenDSS leaves shunt reactors out of its circuit losses
        assert res.losses_kw == pytest.approx(ref.losses_kw, rel=1e-4, abs=0.01)


@pytest.mark.parametrize(
    "case",
    ["balanced-60hz", "untransposed-asymmetric", "regulator-ldc", "extras-equal-kva", "extras"],
)
def test_matches_the_project_opendss_engine(case: str) -> None:
    from openderms.grid.engines.opendss import OpenDssEngine

    # "extras" has a two-winding transformer with unequal winding kVA (OpenDSS's writer must
    # set all winding ratings at once, or the last one written overwrites the others)
    makers = {**CASES, "extras": lambda: with_extras(feeder())}
    make = makers.get(case, lambda: with_extras(feeder(), svc_lv_kva=500.0))
    net = make()
    exact = OpenDssEngine().solve(net)
    fast = PgmEngine().solve(net)
    assert set(fast.node_ids) == set(exact.node_ids)
    assert fast.branch_ids == exact.branch_ids
    v_exact = dict(zip(exact.node_ids, exact.v_pu, strict=True))
    assert max(abs(v - v_exact[n]) for n, v in zip(fast.node_ids, fast.v_pu, strict=True)) <= 1e-6
    assert np.abs(fast.loading_pct - exact.loading_pct).max() <= 0.05
    assert fast.substation_p_kw == pytest.approx(exact.substation_p_kw, rel=1e-5)


def test_regulator_taps_follow_opendss() -> None:
    net = feeder(regulator=regulator(124.0))
    ref = dss.solve(net)
    res = PgmEngine().solve(net)
    assert ref.taps["tsub"] == pytest.approx(1.03125)  # five 0.625 % steps up
    assert max_dv(res, ref) <= 1e-5


def test_balanced_network_is_fully_supported_and_symmetric() -> None:
    net = with_extras(feeder(regulator=regulator()))
    assert PgmEngine().unsupported(net) == ()
    assert PgmModel.from_network(net).symmetric
    assert not PgmModel.from_network(feeder(untransposed=True)).symmetric
    assert pick_engine(net).name == "pgm"


def test_symmetric_and_asymmetric_agree_on_a_transposed_network() -> None:
    net = with_extras(feeder(imag_pct=1.0, regulator=regulator(121.0)), tert_conn="wye")
    sym = PgmModel.from_network(net).solve()
    asym = PgmModel.from_network(net, symmetric=False).solve()
    assert np.abs(sym.v_pu - asym.v_pu).max() < 1e-8
    assert np.abs(sym.v_angle_deg - asym.v_angle_deg).max() < 1e-6
    assert sym.losses_kw == pytest.approx(asym.losses_kw, rel=1e-8)


def test_delta_wye_transformer_shifts_the_low_side_by_minus_30_degrees() -> None:
    res = PgmEngine().solve(feeder())
    ang = dict(zip(res.node_ids, res.v_angle_deg, strict=True))
    assert ang["src.1"] == pytest.approx(0.0, abs=0.2)
    assert ang["sub.1"] - ang["src.1"] == pytest.approx(-30.0, abs=1.5)  # plus the drop
    assert ang["sub.2"] - ang["sub.1"] == pytest.approx(-120.0, abs=1e-6)


def mixed() -> Network:
    """A balanced trunk with single-phase and two-phase laterals."""
    net = feeder(n=4)
    one = ((0.4,),)
    two = ((0.4, 0.1), (0.1, 0.4))
    lat = (
        Line("lat_b", "n2", "m1", (2,), (2,), 0.5, one, one, ((9.0,),), 100.0),
        Line("lat_ac", "n3", "m2", (1, 3), (1, 3), 0.5, two, two, two, 100.0),
    )
    return dataclasses.replace(
        net,
        buses=(*net.buses, Bus("m1", V12_LN), Bus("m2", V12_LN), Bus("s1", 0.12)),
        lines=net.lines + lat,
        transformers=(
            *net.transformers,
            Transformer(
                "t1ph",
                1,
                (
                    Winding("m1", (2,), "wye", 7.2, 25.0, 1.0),
                    Winding("s1", (1, 2), "wye", 0.24, 25.0, 1.0),
                ),
                (2.0,),
            ),
        ),
        loads=(
            *net.loads,
            Load("ld_b", "m1", (2,), "wye", 10.0, 2.0, 7.2),
            Load("ld_ab", "n1", (1, 2), "delta", 20.0, 5.0, 12.47),
            Load("ld_zip", "n4", ABC, "wye", 10.0, 2.0, 12.47, "zip", (0.5, 0.5)),
        ),
        ders=(*net.ders, Der("pv_b", "m1", (2,), "pv", 5.0, 0.0, 5.0, 5.0, 7.2)),
        capacitors=(*net.capacitors, Capacitor("cap_c", "n2", (3,), "wye", 50.0, 7.2)),
    )


def test_unsupported_names_the_single_phase_elements() -> None:
    reasons = PgmEngine().unsupported(mixed())
    named = {r.split(":")[0] for r in reasons}
    assert named == {
        "line lat_b",
        "line lat_ac",
        "transformer t1ph",
        "load ld_b",
        "load ld_ab",
        "load ld_zip",
        "der pv_b",
        "capacitor cap_c",
    }
    with pytest.raises(EngineUnsupportedError) as err:
        PgmEngine().solve(mixed())
    assert err.value.reasons == reasons


def test_delta_loads_are_unsupported_only_in_the_asymmetric_calculation() -> None:
    assert PgmEngine().unsupported(feeder(conn="delta")) == ()
    reasons = PgmEngine().unsupported(feeder(conn="delta", untransposed=True))
    assert reasons
    assert all("delta load" in r for r in reasons)


def test_regulators_it_cannot_emulate_are_named() -> None:
    rev = dataclasses.replace(regulator(), reversible=True)
    assert PgmEngine().unsupported(feeder(regulator=rev)) == (
        "regulator reg: reverse-power regulation is not emulated",
    )


@pytest.mark.parametrize("r_ohm", [0.0, 0.01])
def test_opening_a_switch_deenergises_downstream_nodes(r_ohm: float) -> None:
    base = feeder(n=4)
    net = dataclasses.replace(
        base,
        lines=tuple(ln for ln in base.lines if ln.id != "l3"),
        switches=(*base.switches, Switch("s23", "n2", "n3", ABC, ABC, True)),
    )
    net = with_switch_impedance(net, r_ohm, 2 * r_ohm)
    model = PgmModel.from_network(net)
    opened = model.with_switch_states({"s23": False})
    res = opened.solve()
    v = dict(zip(res.node_ids, res.v_pu, strict=True))
    assert all(v[f"n{i}.{p}"] == 0.0 for i in (3, 4) for p in ABC)
    assert all(v[f"n{i}.{p}"] > 0.9 for i in (1, 2) for p in ABC)
    assert "s23" in model.solve().branch_ids
    assert "s23" not in res.branch_ids
    loading = dict(zip(res.branch_ids, res.loading_pct, strict=True))
    assert loading["l4"] == 0.0
    # the switching fast path equals converting the switched network from scratch
    rebuilt = PgmModel.from_network(with_switch_state(net, "s23", False)).solve()
    assert np.array_equal(rebuilt.v_pu, res.v_pu)
    assert rebuilt.branch_ids == res.branch_ids
    closed_again = opened.with_switch_states({"s23": True}).solve()
    assert np.allclose(closed_again.v_pu, model.solve().v_pu, atol=1e-12)
    with pytest.raises(UnknownElementError):
        model.with_switch_states({"nope": True})


def test_reverse_flow_gives_negative_substation_power() -> None:
    res = PgmEngine().solve(feeder(der_kw=2000.0))
    assert res.substation_p_kw < 0
    flows = dict(zip(res.branch_ids, res.p_from_kw, strict=True))
    assert flows["tsub"] < 0
    assert flows["brk"] < 0
    assert flows["tsub"] == pytest.approx(res.substation_p_kw, rel=1e-9)


def test_branch_results_are_consistent() -> None:
    net = feeder()
    res = PgmEngine().solve(net)
    assert res.branch_kind == ("line",) * 10 + ("switch", "transformer")
    i = dict(zip(res.branch_ids, res.i_max_a, strict=True))
    loading = dict(zip(res.branch_ids, res.loading_pct, strict=True))
    assert loading["l1"] == pytest.approx(100.0 * i["l1"] / 400.0)
    assert loading["brk"] == pytest.approx(100.0 * i["brk"] / 600.0)
    s_kva = math.hypot(res.substation_p_kw, res.substation_q_kvar)
    assert loading["tsub"] == pytest.approx(100.0 * s_kva / 20000.0, rel=0.02)
    assert res.iterations == -1
    assert res.converged
    assert res.solve_s > 0


def day(net: Network, steps: int = 8, seed: int = 3) -> InjectionSeries:
    """Random loads (0.3 to 1.6 of nominal) and DER output, one row per step."""
    rng = np.random.default_rng(seed)
    return InjectionSeries(
        np.array([ld.p_kw for ld in net.loads]) * rng.uniform(0.3, 1.6, (steps, 1)),
        np.tile([ld.q_kvar for ld in net.loads], (steps, 1)),
        rng.uniform(0.0, 900.0, (steps, len(net.ders))),
        rng.uniform(-100.0, 100.0, (steps, len(net.ders))),
    )


def test_batch_equals_step_by_step_solves() -> None:
    net = feeder(regulator=regulator(121.0, 1.5, 2.0, 4.0))
    model = PgmModel.from_network(net)
    inj = day(net)
    batch = model.batch(inj.load_p_kw, der_p_kw=inj.der_p_kw, der_q_kvar=inj.der_q_kvar)
    assert batch.v_pu.shape == (inj.n_steps, len(model.node_ids))
    for k in range(inj.n_steps):
        one = model.solve(inj.load_p_kw[k], der_p_kw=inj.der_p_kw[k], der_q_kvar=inj.der_q_kvar[k])
        assert np.abs(one.v_pu - batch.v_pu[k]).max() < 1e-8
        assert np.abs(one.loading_pct - batch.loading_pct[k]).max() < 1e-5
        assert one.substation_p_kw == pytest.approx(batch.substation_p_kw[k], abs=1e-3)
        assert one.losses_kw == pytest.approx(batch.losses_kw[k], abs=1e-3)


def test_without_regulators_a_time_series_is_the_batch() -> None:
    net = feeder()
    inj = day(net)
    series = PgmEngine().solve_series(net, inj)
    model = PgmModel.from_network(net)
    batch = model.batch(inj.load_p_kw, inj.load_q_kvar, inj.der_p_kw, inj.der_q_kvar)
    assert np.array_equal(series.v_pu, batch.v_pu)
    assert series.engine == "pgm"
    assert series.branch_ids == model.branch_ids


def test_fixed_taps_leave_the_regulator_alone() -> None:
    net = feeder(regulator=regulator(124.0))
    model = PgmModel.from_network(net)
    fixed = model.solve(regulate=False)
    plain = PgmModel.from_network(dataclasses.replace(net, regulators=())).solve()
    assert np.array_equal(fixed.v_pu, plain.v_pu)
    assert model.solve().v_pu.max() > fixed.v_pu.max()  # the regulator boosts


def test_time_series_carries_taps_like_the_opendss_engine() -> None:
    from openderms.grid.engines import opendss

    net = feeder(regulator=regulator(121.0, 1.5, 2.0, 4.0))
    inj = day(net, steps=12, seed=5)
    fast = PgmEngine().solve_series(net, inj)
    exact = opendss.OpenDssEngine().solve_series(net, inj)
    col = {n: k for k, n in enumerate(exact.node_ids)}
    order = [col[n] for n in fast.node_ids]
    assert np.abs(fast.v_pu - exact.v_pu[:, order]).max() <= 1e-6
    assert np.allclose(fast.substation_p_kw, exact.substation_p_kw, rtol=1e-5)
    independent = PgmModel.from_network(net).batch(
        inj.load_p_kw, inj.load_q_kvar, inj.der_p_kw, inj.der_q_kvar
    )
    assert np.abs(independent.v_pu - exact.v_pu[:, order]).max() > 1e-3  # taps do carry over


def test_injections_of_the_wrong_width_are_refused() -> None:
    model = PgmModel.from_network(feeder())
    with pytest.raises(ValueError, match="columns"):
        model.solve(der_p_kw=np.zeros(len(model.net.ders) + 1))
    with pytest.raises(ValueError, match="at least one"):
        model.batch()


def test_an_impossible_load_raises_not_converged() -> None:
    net = feeder(n=3)
    model = PgmModel.from_network(net)
    huge = np.full(len(net.loads), 5e5)
    with pytest.raises(NotConvergedError):
        model.solve(load_p_kw=huge)
    with pytest.raises(NotConvergedError, match="1 of 2 scenarios"):
        model.batch(load_p_kw=np.vstack([huge / 1e4, huge]))


def test_a_network_without_source_is_refused() -> None:
    with pytest.raises(PowerFlowError, match="no source"):
        PgmEngine().solve(dataclasses.replace(feeder(n=2), sources=()))


def test_engine_caches_the_converted_model() -> None:
    engine = PgmEngine(cache_size=1)
    net = feeder(n=3)
    assert engine.model(net) is engine.model(net)
    other = feeder(n=3)
    assert engine.model(other) is not engine.model(net)


@pytest.fixture(scope="module")
def balance_model() -> PgmModel:
    """Constant-power loads at any voltage, so consumption is exactly ``p_kw``."""
    net = feeder(imag_pct=0.5)
    wide = tuple(dataclasses.replace(ld, v_min_pu=0.0, v_max_pu=9.0) for ld in net.loads)
    return PgmModel.from_network(dataclasses.replace(net, loads=wide))


@settings(max_examples=25, deadline=None)
@given(
    scale=st.lists(st.floats(0.0, 2.0), min_size=10, max_size=10),
    der=st.lists(st.floats(-300.0, 1500.0), min_size=3, max_size=3),
    q=st.floats(-200.0, 200.0),
)
def test_energy_balance_holds(
    balance_model: PgmModel, scale: list[float], der: list[float], q: float
) -> None:
    """Substation import = loads - DER + losses, whatever the injections (reverse flow too)."""
    model = balance_model
    net = model.net
    load_p = np.array([ld.p_kw for ld in net.loads]) * np.array(scale)
    res = model.solve(load_p_kw=load_p, der_p_kw=np.array(der), der_q_kvar=np.full(3, q))
    assert res.losses_kw > 0
    assert res.substation_p_kw == pytest.approx(
        load_p.sum() - sum(der) + res.losses_kw, rel=1e-7, abs=1e-4
    )


def test_a_load_sitting_on_its_band_edge_settles() -> None:
    """A load whose bus voltage is right at its v_max_pu must not flip between its two laws
    forever: sweep the DER output finely across the point where the bus crosses 1.05 pu."""
    import dataclasses

    from openderms.grid.model import Load
    from tests.grid.builders import two_feeders

    base = two_feeders()
    base = dataclasses.replace(
        base,
        sources=(dataclasses.replace(base.sources[0], v_pu=1.03),),
        loads=(*base.loads, Load("edge", "lv1", (1, 2, 3), "wye", 20.0, 5.0, 0.48)),
    )

    def v_lv1(p_kw: float) -> tuple[float, PgmModel]:
        ders = tuple(dataclasses.replace(d, p_kw=p_kw) if d.id == "pv1" else d for d in base.ders)
        model = PgmModel.from_network(dataclasses.replace(base, ders=ders))
        res = model.solve()
        v = max(v for b, v in zip(res.node_bus, res.v_pu, strict=True) if b == "lv1")
        return v, model

    lo, hi = 0.0, 600.0
    assert v_lv1(lo)[0] < 1.05 < v_lv1(hi)[0]
    for _ in range(40):  # bisect to the crossing
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if v_lv1(mid)[0] < 1.05 else (lo, mid)
    for p_kw in lo + np.linspace(-1e-6, 1e-6, 41):
        v, _ = v_lv1(float(p_kw))
        assert abs(v - 1.05) < 2e-3
