"""The OpenDSS engine solves our model (never an original file) and reads results back."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from openderms.errors import PowerFlowError
from openderms.grid.engines import get_engine
from openderms.grid.engines.opendss import OpenDssEngine, to_dss_script
from openderms.grid.model import Bus, Line, Load, Network, Source, with_switch_state
from openderms.grid.opendss import import_dss
from openderms.grid.opendss._dss import as_complex, new_context
from openderms.grid.powerflow import InjectionSeries, solve
from tests.grid.builders import two_feeders

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "opendss"


@pytest.fixture(scope="module")
def ieee13() -> Network:
    path = REPO.parent / "shared" / "feeders" / "IEEETestCases" / "13Bus" / "IEEE13Nodeckt.dss"
    if not path.is_file():
        pytest.fail(f"public test feeder missing: expected {path} (copy shared/ beside the repo)")
    return import_dss(path).network


@pytest.fixture(scope="module")
def devices() -> Network:
    return import_dss(DATA / "devices_and_der.dss").network


def test_engine_is_registered_and_represents_imported_models(
    ieee13: Network, devices: Network
) -> None:
    engine = get_engine("opendss")
    assert isinstance(engine, OpenDssEngine)
    assert engine.name == "opendss"
    assert engine.unsupported(ieee13) == ()
    assert engine.unsupported(devices) == ()
    assert engine.unsupported(two_feeders()) == ()
    assert solve(ieee13, "opendss").engine == "opendss"


def test_hand_built_network_balances_power() -> None:
    """Substation import = load - DER export + losses (constant-power loads, generator sign)."""
    net = two_feeders()
    result = OpenDssEngine().solve(net)
    assert result.converged
    load_kw = sum(ld.p_kw for ld in net.loads)
    der_kw = sum(d.p_kw for d in net.ders)
    assert result.substation_p_kw == pytest.approx(load_kw - der_kw + result.losses_kw, rel=1e-5)
    assert 0.0 < result.losses_kw < 0.05 * load_kw
    assert set(result.node_bus) == {b.id for b in net.buses}
    assert all(0.9 < v < 1.1 for v in result.v_pu)


def test_more_der_export_lowers_substation_import() -> None:
    net = two_feeders()
    engine = OpenDssEngine()
    base = engine.solve(net)
    ders = tuple(dataclasses.replace(d, p_kw=d.p_kw + 50.0) for d in net.ders)
    more = engine.solve(dataclasses.replace(net, ders=ders))
    assert base.substation_p_kw - more.substation_p_kw == pytest.approx(150.0, rel=0.05)


def test_branch_results_and_open_switch(devices: Network) -> None:
    result = OpenDssEngine().solve(devices)
    branches = dict(zip(result.branch_ids, range(len(result.branch_ids)), strict=True))
    assert "tie" not in branches  # open switches carry nothing and are not reported
    assert result.branch_kind[branches["brk"]] == "switch"
    assert result.branch_kind[branches["lim"]] == "reactor"
    line = next(ln for ln in devices.lines if ln.id == "f1")
    k = branches["f1"]
    assert result.loading_pct[k] == pytest.approx(100 * result.i_max_a[k] / line.ampacity_a)
    k_sub = branches["sub"]
    s_kva = abs(complex(result.p_from_kw[k_sub], result.q_from_kvar[k_sub]))
    rated_lv_a = 20000.0 / (3**0.5 * 12.47)
    assert result.loading_pct[k_sub] == pytest.approx(100 * result.i_max_a[k_sub] / rated_lv_a)
    assert result.loading_pct[k_sub] >= 100 * s_kva / 20000.0  # worst phase, not the average
    assert result.p_from_kw[k_sub] == pytest.approx(result.substation_p_kw, rel=1e-6)
    closed = with_switch_state(devices, "tie", True)
    assert "tie" in OpenDssEngine().solve(closed).branch_ids


def test_opening_the_head_switch_de_energises_the_feeder(devices: Network) -> None:
    result = OpenDssEngine().solve(with_switch_state(devices, "brk", False))
    fed = {bus for bus, v in zip(result.node_bus, result.v_pu.tolist(), strict=True) if v > 0.5}
    assert "f1" not in fed
    assert "lvsub" in fed


def test_exported_script_reproduces_the_engine(ieee13: Network) -> None:
    script = to_dss_script(ieee13)
    assert script.startswith("Clear\n")
    assert "New Circuit.ieee13nodeckt" in script
    assert "New RegControl.reg1 transformer=reg1 winding=2" in script
    ctx = new_context()
    ctx.Text.Commands(script)
    ctx.Text.Command = "set tolerance=1e-9"
    ctx.ActiveCircuit.Solution.Solve()
    c = ctx.ActiveCircuit
    theirs = dict(
        zip(
            (str(n).lower() for n in c.AllNodeNames),
            np.abs(as_complex(c.AllBusVolts)).tolist(),
            strict=True,
        )
    )
    result = OpenDssEngine(tolerance_pu=1e-9).solve(ieee13)
    base = {b.id: b.v_base_kv_ln * 1000 for b in ieee13.buses}
    for node, bus, v in zip(result.node_ids, result.node_bus, result.v_pu.tolist(), strict=True):
        assert v * base[bus] == pytest.approx(theirs[node], rel=1e-9)


def test_ids_opendss_cannot_hold_are_mapped_back() -> None:
    abc = (1, 2, 3)
    z = ((0.3, 0.1, 0.1), (0.1, 0.3, 0.1), (0.1, 0.1, 0.3))
    c = ((10.0, -2.0, -2.0), (-2.0, 10.0, -2.0), (-2.0, -2.0, 10.0))
    net = Network(
        name="odd names",
        buses=(Bus("Grid Bus", 7.2), Bus("feeder.end", 7.2), Bus("FEEDER.END", 7.2)),
        sources=(Source("grid", "Grid Bus", 12.47),),
        lines=(
            Line("line 1", "Grid Bus", "feeder.end", abc, abc, 1.0, z, z, c, 400.0),
            Line("Line 1", "feeder.end", "FEEDER.END", abc, abc, 1.0, z, z, c, 400.0),
        ),
        loads=(Load("load=1", "FEEDER.END", abc, "wye", 900.0, 300.0, 12.47),),
    )
    result = OpenDssEngine().solve(net)
    assert set(result.node_bus) == {"Grid Bus", "feeder.end", "FEEDER.END"}
    assert result.branch_ids == ("line 1", "Line 1")
    v = dict(zip(result.node_ids, result.v_pu.tolist(), strict=True))
    assert v["Grid Bus.1"] > v["feeder.end.1"] > v["FEEDER.END.1"] > 0.9


def test_series_matches_snapshots(ieee13: Network) -> None:
    engine = OpenDssEngine(tolerance_pu=1e-9)
    scale = np.array([0.6, 1.0])
    p = np.array([[ld.p_kw for ld in ieee13.loads]]) * scale[:, None]
    q = np.array([[ld.q_kvar for ld in ieee13.loads]]) * scale[:, None]
    empty = np.zeros((2, 0))
    series = engine.solve_series(ieee13, InjectionSeries(p, q, empty, empty))
    assert series.v_pu.shape == (2, len(series.node_ids))
    assert series.loading_pct.shape == (2, len(series.branch_ids))
    snapshot = engine.solve(ieee13)
    assert series.node_ids == snapshot.node_ids
    assert np.allclose(series.v_pu[1], snapshot.v_pu, atol=1e-6)
    assert series.substation_p_kw[1] == pytest.approx(snapshot.substation_p_kw, rel=1e-6)
    assert series.substation_p_kw[0] < 0.75 * series.substation_p_kw[1]
    assert series.v_pu[0].min() > series.v_pu[1].min()


def test_series_updates_der_in_generator_convention(devices: Network) -> None:
    engine = OpenDssEngine()
    n_load, n_der = len(devices.loads), len(devices.ders)
    p_load = np.tile([ld.p_kw for ld in devices.loads], (2, 1))
    q_load = np.tile([ld.q_kvar for ld in devices.loads], (2, 1))
    p_der = np.tile([d.p_kw for d in devices.ders], (2, 1))
    p_der[1] += 100.0
    q_der = np.tile([d.q_kvar for d in devices.ders], (2, 1))
    series = engine.solve_series(devices, InjectionSeries(p_load, q_load, p_der, q_der))
    drop = series.substation_p_kw[0] - series.substation_p_kw[1]
    assert drop == pytest.approx(100.0 * n_der, rel=0.05)
    with pytest.raises(PowerFlowError, match="injections"):
        engine.solve_series(
            devices, InjectionSeries(p_load[:, :1], q_load, p_der, q_der[:, : n_der - 1])
        )
    assert n_load > 0


def test_network_without_source_is_rejected() -> None:
    net = Network(name="empty", buses=(Bus("a", 7.2),))
    engine = OpenDssEngine()
    assert engine.unsupported(net) == ("network 'empty': no source",)
    with pytest.raises(PowerFlowError, match="no source"):
        engine.solve(net)
