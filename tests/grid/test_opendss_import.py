"""OpenDSS import: golden comparisons against OpenDSS solving the original files.

Public feeders live in ``<repo>/../shared/feeders`` (CI copies ``shared/`` beside the clone);
small circuits of our own under ``tests/data/opendss`` exercise what other public feeders use
(IEEE 34, 37, 8500-node, EPRI ckt7/ckt24/J1) without copying them into the repository.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from openderms.errors import ModelImportError
from openderms.grid.opendss import ImportReport, import_dss, validate_against_opendss

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "opendss"


@pytest.fixture(scope="module")
def feeders() -> Path:
    """The shared public feeders; their absence is a CI set-up error, never a skip."""
    path = REPO.parent / "shared" / "feeders"
    if not path.is_dir():
        pytest.fail(f"public test feeders missing: expected {path} (copy shared/ beside the repo)")
    return path


@pytest.fixture(scope="module")
def ieee13(feeders: Path) -> ImportReport:
    return import_dss(feeders / "IEEETestCases" / "13Bus" / "IEEE13Nodeckt.dss")


@pytest.fixture(scope="module")
def ckt5(feeders: Path) -> ImportReport:
    return import_dss(feeders / "EPRITestCircuits" / "ckt5" / "Master_ckt5.dss")


@pytest.fixture(scope="module")
def devices() -> ImportReport:
    return import_dss(DATA / "devices_and_der.dss")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("relative", "nodes", "tolerance_pu"),
    [
        ("IEEETestCases/13Bus/IEEE13Nodeckt.dss", 41, 1e-6),
        ("IEEETestCases/123Bus/IEEE123Master.dss", 278, 1e-6),
        ("EPRITestCircuits/ckt5/Master_ckt5.dss", 3437, 1e-4),
    ],
)
def test_public_feeder_matches_opendss(
    feeders: Path, relative: str, nodes: int, tolerance_pu: float
) -> None:
    report = validate_against_opendss(feeders / relative, engine="opendss")
    assert report["engine"] == "opendss"
    assert report["converged"] is True
    assert report["nodes_compared"] == nodes
    assert report["nodes_missing"] == 0
    assert report["max_abs_dv_pu"] <= tolerance_pu, report["worst_node"]
    assert report["max_abs_dangle_deg"] <= 0.01
    assert report["substation_p_kw"] == pytest.approx(report["reference_substation_p_kw"], 1e-4)
    json.dumps(report, allow_nan=False)  # the CLI prints it as JSON


@pytest.mark.parametrize(
    "name",
    [
        "delta_open_regulator",
        "delta_closed_regulator",
        "long_laterals_1ph_regulators",
        "split_phase_service",
        "geometry_lines",
        "devices_and_der",
        "mixed_models",
    ],
)
def test_own_circuit_round_trips(name: str) -> None:
    report = validate_against_opendss(DATA / f"{name}.dss", engine="opendss")
    assert report["nodes_missing"] == 0
    assert report["nodes_compared"] > 0
    assert report["max_abs_dv_pu"] <= 1e-5, report["worst_node"]


def test_ieee13_elements_map_with_units(ieee13: ImportReport) -> None:
    net = ieee13.network
    assert net.summary() == {
        "buses": 16,
        "sources": 1,
        "lines": 11,
        "switches": 1,
        "transformers": 5,
        "regulators": 3,
        "capacitors": 2,
        "reactors": 0,
        "loads": 15,
        "ders": 0,
    }
    assert ieee13.unsupported == ()
    assert ieee13.ignored == ()
    line = next(ln for ln in net.lines if ln.id == "650632")
    assert line.length_km == pytest.approx(2000 * 0.3048e-3)
    assert line.r_ohm_per_km[0][0] == pytest.approx(0.3465 / 1.609344)
    assert line.nodes1 == (1, 2, 3)
    bus = next(b for b in net.buses if b.id == "650")
    assert bus.v_base_kv_ln == pytest.approx(4.16 / 3**0.5, rel=1e-3)
    assert (bus.x, bus.y) == (200.0, 350.0)
    src = net.sources[0]
    assert (src.bus, src.v_pu, src.angle_deg) == ("sourcebus", 1.0001, 30.0)
    assert abs(complex(src.r1_ohm, src.x1_ohm)) == pytest.approx(115.0**2 / 20000.0, rel=1e-9)
    kinds = {tr.id: tr.kind for tr in net.transformers}
    assert kinds == {
        "sub": "substation",
        "reg1": "regulator",
        "reg2": "regulator",
        "reg3": "regulator",
        "xfm1": "service",
    }
    reg = next(r for r in net.regulators if r.id == "reg1")
    assert (reg.transformer, reg.winding, reg.v_set_v, reg.band_v) == ("reg1", 2, 122.0, 2.0)
    assert (reg.pt_ratio, reg.ct_primary_a, reg.r_ldc_v, reg.x_ldc_v) == (20.0, 700.0, 3.0, 9.0)
    reg_tr = next(tr for tr in net.transformers if tr.id == "reg1")
    assert reg_tr.windings[1].tap_pu > 1.0  # the solved tap, not the default
    loads = {ld.id: ld for ld in net.loads}
    assert (loads["671"].conn, loads["671"].nodes, loads["671"].p_kw) == ("delta", (1, 2, 3), 1155)
    assert (loads["646"].model, loads["646"].nodes) == ("constant_impedance", (2, 3))
    assert loads["692"].model == "constant_current"
    assert loads["634a"].v_kv == 0.277
    switch = net.switches[0]
    assert (switch.id, switch.closed, switch.bus1, switch.bus2) == ("671692", True, "671", "692")


def test_ckt5_reports_controls_meters_and_out_of_service_lines(ckt5: ImportReport) -> None:
    net = ckt5.network
    assert len(ckt5.unsupported) == 4
    assert all(u.startswith("CapControl.mdv201_") for u in ckt5.unsupported)
    assert ckt5.ignored == ("EnergyMeter.sub: measurement only, no power-flow effect",)
    switches = {sw.id: sw for sw in net.switches}
    assert switches["mdv201_osw_67888"].closed is False  # a disabled line: an open switch
    assert switches["mdv201_osw_67888_sw"].closed is False
    assert switches["mdv201_1160486elb-1_sw"].r_ohm == pytest.approx(1e-3)
    assert any("mdv201_osw_67888 is out of service" in n for n in net.notes)
    assert {ld.model for ld in net.loads} == {"exponential"}
    assert {(ld.p_exponent, ld.q_exponent) for ld in net.loads} == {(0.8, 3.0)}
    assert [(f.id, f.head) for f in net.feeders] == [("sub", "mdv201_connector")]
    assert len(net.loads) == 1379
    assert len(net.transformers) == 592
    assert {len(tr.windings) for tr in net.transformers} == {2}


def test_split_phase_windings_and_service_loads() -> None:
    net = import_dss(DATA / "split_phase_service.dss").network
    t1 = next(tr for tr in net.transformers if tr.id == "t1")
    assert [w.nodes for w in t1.windings] == [(2,), (1,), (0, 2)]
    assert t1.x_pct == (2.04, 2.04, 1.36)
    assert t1.kind == "service"
    loads = {ld.id: ld for ld in net.loads}
    assert (loads["h1ab"].conn, loads["h1ab"].nodes) == ("delta", (1, 2))  # 240 V across legs
    assert loads["h1a"].p_kw == pytest.approx(2.5 * 1.2)  # the circuit load multiplier
    assert loads["h3"].p_kw == pytest.approx(12.0)  # status=fixed ignores it
    assert loads["h3a"].zip_coeffs == (0.3, 0.3, 0.4, 0.5, 0.2, 0.3, 0.7)
    triplex = next(ln for ln in net.lines if ln.id == "tp3")
    assert (triplex.nodes1, triplex.length_km) == ((1, 2), pytest.approx(0.04))


def test_geometry_spacing_and_cable_lines() -> None:
    net = import_dss(DATA / "geometry_lines.dss").network
    lines = {ln.id: ln for ln in net.lines}
    assert lines["g1"].length_km == pytest.approx(0.6 * 1.609344)
    assert lines["g2"].nodes2 == (1, 2, 3, 4)  # the neutral kept as a conductor
    assert len(lines["g2"].r_ohm_per_km) == 4
    assert lines["v1"].length_km == pytest.approx(0.8)
    assert (lines["cab"].kind, lines["sp"].kind) == ("cable", "overhead")
    assert lines["g1"].ampacity_a == 530.0
    loads = {ld.id: ld for ld in net.loads}
    assert (loads["b2"].conn, loads["b2"].nodes) == ("wye", (1, 2, 3, 4))
    assert (loads["b3a"].conn, loads["b3a"].nodes) == ("delta", (1, 4))
    assert net.reactors[0].nodes1 == (4,)


def test_devices_der_and_switch_states(devices: ImportReport) -> None:
    net = devices.network
    ders = {d.id: d for d in net.ders}
    assert ders["pv1"].kind == "pv"
    assert ders["pv1"].p_kw == pytest.approx(220 * 0.9, rel=1e-6)
    assert ders["bat1"].p_kw == pytest.approx(300.0, rel=1e-6)  # discharging exports
    assert ders["bat2"].p_kw == pytest.approx(-100.0, rel=1e-6)  # charging imports
    assert (ders["bat2"].p_min_kw, ders["bat2"].e_kwh) == (-200.0, 800.0)
    assert ders["dg1"].q_kvar == pytest.approx(150.0, rel=1e-6)
    switches = {sw.id: sw for sw in net.switches}
    assert (switches["tie"].closed, switches["tie"].normally_closed) == (False, False)
    assert switches["tie2"].closed is False
    assert switches["brk"].kind == "recloser"
    sub = next(tr for tr in net.transformers if tr.id == "sub")
    assert (sub.kind, sub.windings[0].v_kv, sub.x_pct, sub.imag_pct) == (
        "substation",
        115.0,
        (9.0,),
        0.2,
    )
    reactors = {r.id: r for r in net.reactors}
    assert (reactors["lim"].bus2, reactors["lim"].x_ohm) == ("bus0", pytest.approx(0.35))
    assert reactors["shunt"].bus2 is None
    assert reactors["shunt"].x_ohm == pytest.approx(12.47**2 / 0.3, rel=1e-6)
    assert reactors["dshunt"].conn == "delta"
    caps = {c.id: c for c in net.capacitors}
    assert (caps["c1"].q_kvar, caps["c1"].closed) == (600.0, True)  # two of three steps in
    assert [(f.id, f.head) for f in net.feeders] == [("m1", "brk")]


def test_devices_report_every_unrepresented_element(devices: ImportReport) -> None:
    names = [u.split(":")[0] for u in devices.unsupported]
    assert names == ["Recloser.rec1", "Fuse.fu1", "CapControl.cc2"]
    assert [i.split(":")[0] for i in devices.ignored] == [
        "EnergyMeter.m1",
        "Monitor.mon1",
        "Generator.dg2",
    ]


def test_mixed_models_keep_their_details() -> None:
    report = import_dss(DATA / "mixed_models.dss")
    net = report.network
    assert report.unsupported == ()
    reg = net.regulators[0]
    assert (reg.pt_phase, reg.reversible, reg.v_set_v) == (-1, True, 121.0)
    loads = {ld.id: ld for ld in net.loads}
    assert (loads["two"].nodes, loads["two"].p_kw) == ((1, 3), pytest.approx(140.0))
    assert loads["ex"].p_kw == pytest.approx(100.0)  # exempt from the load multiplier
    assert loads["lvn"].nodes == (1, 2, 3, 4)
    yn = next(tr for tr in net.transformers if tr.id == "yn")
    assert yn.windings[1].nodes == (1, 2, 3, 4)
    line = next(ln for ln in net.lines if ln.id == "a")
    assert line.x_ohm_per_km[0][0] > (2 * 0.33 + 1.0) / 3  # 50 Hz reactance seen at 60 Hz


def test_unsupported_elements_are_reported_by_name() -> None:
    report = import_dss(DATA / "unsupported_elements.dss")
    names = {u.split(":")[0] for u in report.unsupported}
    assert {"Relay.r1", "Transformer.t4", "Isource.inj", "Fault.f1"} <= names
    assert any("4 windings" in u for u in report.unsupported)
    assert {i.split(":")[0] for i in report.ignored} == {"Monitor.m1", "Load.off"}
    assert [ld.id for ld in report.network.loads] == ["ld"]


def test_broken_file_raises_naming_the_file() -> None:
    with pytest.raises(ModelImportError, match=r"broken\.dss.*no_such_code"):
        import_dss(DATA / "broken.dss")


def test_missing_file_raises() -> None:
    with pytest.raises(ModelImportError, match="no_such_file"):
        import_dss(DATA / "no_such_file.dss")


def test_import_keeps_working_directory_and_ids_unique(ieee13: ImportReport) -> None:
    before = os.getcwd()
    net = import_dss(DATA / "long_laterals_1ph_regulators.dss").network
    assert os.getcwd() == before
    for table in ("buses", "lines", "switches", "transformers", "loads", "regulators"):
        ids = [el.id for el in getattr(net, table)]
        assert len(ids) == len(set(ids)), table
    assert {r.transformer for r in net.regulators} <= {t.id for t in net.transformers}
    assert {tr.kind for tr in net.transformers} == {"substation", "regulator", "other"}
