"""Hosting-capacity screening: capacities checked against AC power flows, grants and releases,
thermal and voltage binding, regulated zones, existing violations, and the invariants that
granting at most the capacity never over-allocates (hypothesis)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openderms.grid.hosting import HostingEngine, HostingRules
from openderms.grid.model import Regulator
from openderms.grid.topology import switch
from openderms.sim.twin import Twin, build_twin
from tests.grid.builders import two_feeders

AC_TOLERANCE_PU = 0.001  # how far above v_max an AC flow may put a DER granted its capacity


@pytest.fixture(scope="module")
def small() -> Twin:
    return build_twin("small", seed=0)


@pytest.fixture(scope="module")
def engine(small: Twin) -> HostingEngine:
    return HostingEngine.build(small.network, small.injections)


@pytest.fixture(scope="module")
def lv_buses(small: Twin) -> list[str]:
    """Low-voltage buses with a DER in the twin (where registrations connect)."""
    return sorted({d.bus for d in small.network.ders})


def _ac_capacity_kw(eng: HostingEngine, bus: str, hi_kw: float) -> float:
    """The export at ``bus`` that puts the worst AC voltage exactly at its limit (bisection)."""
    lo = 0.0
    for _ in range(30):
        mid = (lo + hi_kw) / 2
        if eng.verify("export", {bus: mid}).v_over_max_pu <= 0.0:
            lo = mid
        else:
            hi_kw = mid
    return lo


@pytest.mark.parametrize("k", [0, 17, 55, 90])
def test_export_capacity_holds_in_ac_and_is_within_3_pct_of_it(
    engine: HostingEngine, lv_buses: list[str], k: int
) -> None:
    bus = lv_buses[k]
    s = engine.screen(bus, 0.0)
    assert s.energised
    assert s.binding.kind == "voltage"
    at_capacity = engine.verify("export", {bus: s.capacity_kw})
    assert at_capacity.v_over_max_pu <= AC_TOLERANCE_PU
    assert engine.verify("export", {bus: 1.1 * s.capacity_kw}).v_over_max_pu > 0.0
    true_kw = _ac_capacity_kw(engine, bus, 3 * s.capacity_kw)
    assert s.capacity_kw == pytest.approx(true_kw, rel=0.03)
    assert s.capacity_kw <= true_kw  # LinDistFlow errs on the safe side here


def test_screen_reports_the_impact_of_the_request(
    engine: HostingEngine, lv_buses: list[str]
) -> None:
    bus = lv_buses[3]
    cap = engine.screen(bus, 0.0).capacity_kw
    s = engine.screen(bus, 2 * cap)
    assert s.v_before_pu < s.v_limit_pu == 1.05
    assert s.v_after_pu > 1.05
    assert s.binding_after == pytest.approx(s.v_after_pu)
    assert s.v_after_pu - s.v_before_pu == pytest.approx(2 * (s.v_limit_pu - s.v_before_pu))
    assert s.loading_after_pct > s.loading_before_pct
    assert s.binding.describe() == f"voltage at bus {s.binding.element_id} (limit 1.050 pu)"


def test_grants_shrink_capacity_and_releases_restore_it(small: Twin, lv_buses: list[str]) -> None:
    eng = HostingEngine.build(small.network, small.injections)
    a, b = lv_buses[10], lv_buses[11]
    cap_a, cap_b = eng.screen(a, 0).capacity_kw, eng.screen(b, 0).capacity_kw
    eng.grant(a, cap_a / 2)
    assert eng.screen(a, 0).capacity_kw == pytest.approx(cap_a / 2)  # same binding bus
    assert eng.screen(b, 0).capacity_kw < cap_b
    assert eng.granted_kw("export") == {a: pytest.approx(cap_a / 2)}
    eng.release(a, cap_a / 2)
    assert eng.screen(a, 0).capacity_kw == pytest.approx(cap_a)
    assert eng.screen(b, 0).capacity_kw == pytest.approx(cap_b)
    assert eng.granted_kw("export") == {}


def test_build_with_granted_export_matches_linear_grants(small: Twin, lv_buses: list[str]) -> None:
    """A restart (AC base with the grants) agrees with the incremental state."""
    eng = HostingEngine.build(small.network, small.injections)
    a, b = lv_buses[20], lv_buses[60]
    eng.grant(a, 5.0)
    eng.grant(b, 4.0)
    fresh = HostingEngine.build(
        small.network, small.injections, granted_export_kw=eng.granted_kw("export")
    )
    for bus in (a, b, lv_buses[0]):
        assert fresh.screen(bus, 0).capacity_kw == pytest.approx(
            eng.screen(bus, 0).capacity_kw, rel=0.03
        )


def test_import_capacity_holds_at_peak_load_in_ac(
    engine: HostingEngine, lv_buses: list[str]
) -> None:
    bus = lv_buses[40]
    s = engine.screen(bus, 0.0, "import")
    assert s.capacity_kw > 0
    ac = engine.verify("import", {bus: s.capacity_kw})
    assert ac.case == "peak_load"
    assert ac.v_under_min_pu <= AC_TOLERANCE_PU
    assert ac.loading_max_pct <= 100.0
    over = engine.verify("import", {bus: 1.3 * s.capacity_kw})
    assert over.v_under_min_pu > 0 or over.loading_max_pct > 100.0


def _one_transformer(kva: float) -> HostingEngine:
    """two_feeders with a small service transformer behind which export is thermal-bound."""
    net = two_feeders()
    tr = net.transformers[1]
    windings = tuple(dataclasses.replace(w, s_kva=kva, r_pct=0.2) for w in tr.windings)
    small_tr = dataclasses.replace(tr, windings=windings, x_pct=(1.0,))
    net = dataclasses.replace(net, transformers=(net.transformers[0], small_tr))
    return HostingEngine.build(net)


def test_thermal_binding_on_a_small_service_transformer() -> None:
    eng = _one_transformer(30.0)
    s = eng.screen("lv1", 0.0)
    assert s.binding.kind == "thermal"
    assert s.binding.element_kind == "transformer"
    assert s.binding.element_id == "t_svc1"
    assert s.binding.describe().startswith("thermal on transformer t_svc1 (")
    # the minimum load (0.3 x 60 kW) is served through it, so export gets that much more
    assert 30.0 < s.capacity_kw < 30.0 + 0.3 * 60.0 + 5.0
    ac = eng.verify("export", {"lv1": s.capacity_kw})
    assert ac.loading_max_branch == "t_svc1"
    assert 97.0 <= ac.loading_max_pct <= 100.0


def test_regulators_keep_one_feeder_from_using_up_another() -> None:
    base = two_feeders()
    ltc = Regulator("ltc", "t_sub", 2, v_set_v=123.0, band_v=2.0, pt_ratio=60.0)
    net = dataclasses.replace(base, regulators=(ltc,))
    held = HostingEngine.build(net)
    drift = HostingEngine.build(net, rules=HostingRules(regulator_dead_band_drift=True))
    loose = HostingEngine.build(net, rules=HostingRules(regulators_hold_voltage=False))
    for eng in (held, drift, loose):
        eng.grant("lv1", eng.screen("lv1", 0).voltage_capacity_kw)  # F1 at its voltage limit
    assert held.screen("f2_1", 0).voltage_capacity_kw > 1000.0
    # inside the tap changer's dead band F2's export lifts the bus F1 is at its limit on
    s = drift.screen("f2_1", 0)
    assert s.voltage_capacity_kw == pytest.approx(0.0, abs=1e-6)
    assert s.binding.element_id == "lv1"
    assert loose.screen("f2_1", 0).voltage_capacity_kw == pytest.approx(0.0, abs=1e-6)


def test_dead_band_drift_is_used_up_once_then_the_tap_moves() -> None:
    net = dataclasses.replace(
        two_feeders(), regulators=(Regulator("ltc", "t_sub", 2, 123.0, 2.0, 60.0),)
    )
    eng = HostingEngine.build(net, rules=HostingRules(regulator_dead_band_drift=True))
    before, sub = eng.bus_voltage_pu("f2_1"), eng.bus_voltage_pu("sub")
    edge = (123.0 + 1.0) * 60.0 / (12.47 / 3**0.5 * 1000.0)  # top of the band, pu
    assert sub < edge
    big = 50_000.0
    eng.grant("f1_2", big)  # far more than the band: the drift stops at the band's edge
    assert eng.bus_voltage_pu("sub") == pytest.approx(edge)
    assert eng.bus_voltage_pu("f2_1") - before == pytest.approx(edge - sub)  # drift only
    eng.release("f1_2", big)
    assert eng.bus_voltage_pu("f2_1") == pytest.approx(before)


def test_an_existing_overvoltage_may_be_worsened_only_by_the_tolerance() -> None:
    net = two_feeders()
    hot = dataclasses.replace(net, sources=(dataclasses.replace(net.sources[0], v_pu=1.07),))
    strict = HostingEngine.build(hot, rules=HostingRules(existing_violation_tolerance_pu=0.0))
    assert strict.screen("lv1", 0).capacity_kw == 0.0
    eng = HostingEngine.build(hot)
    s = eng.screen("lv1", 0)
    assert s.v_before_pu > 1.05
    assert s.capacity_kw > 0
    eng.grant("lv1", s.capacity_kw)
    assert eng.screen("f1_2", 0).capacity_kw == pytest.approx(0.0, abs=1e-6)


def test_a_de_energised_bus_hosts_nothing() -> None:
    net, _ = switch(two_feeders(), "brk1", closed=False)
    eng = HostingEngine.build(net)
    s = eng.screen("lv1", 10.0)
    assert not s.energised
    assert s.capacity_kw == 0.0
    assert s.binding.kind == "none"
    eng.grant("lv1", 5.0)  # reserved, but moves no voltage
    assert eng.granted_kw() == {"lv1": 5.0}


def test_unknown_bus_is_named(engine: HostingEngine) -> None:
    with pytest.raises(KeyError, match="no bus with id 'nowhere'"):
        engine.screen("nowhere", 1.0)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    requests=st.lists(
        st.tuples(st.integers(min_value=0, max_value=112), st.floats(0.5, 60.0)),
        min_size=1,
        max_size=25,
    )
)
def test_granting_at_most_the_capacity_never_over_allocates(
    engine: HostingEngine, lv_buses: list[str], requests: list[tuple[int, float]]
) -> None:
    """In any order: each grant fits the capacity it was offered, a bus's total never exceeds
    its capacity before the first grant, and the linear state stays inside every limit."""
    start = {lv_buses[k]: engine.screen(lv_buses[k], 0).capacity_kw for k, _ in requests}
    done: list[tuple[str, float]] = []
    try:
        for k, kw in requests:
            bus = lv_buses[k]
            cap = engine.screen(bus, kw).capacity_kw
            grant = min(kw, math.floor(cap))
            assert cap >= 0.0
            if grant > 0:
                engine.grant(bus, grant)
                done.append((bus, grant))
        total: dict[str, float] = {}
        for bus, kw in done:
            total[bus] = total.get(bus, 0.0) + kw
        for bus, kw in total.items():
            assert kw <= start[bus] + 1e-9
            assert engine.screen(bus, 0).capacity_kw >= -1e-9
        for bus in start:
            assert engine.bus_voltage_pu(bus) <= 1.05 + 1e-9
    finally:
        for bus, kw in reversed(done):
            engine.release(bus, kw)
    assert engine.granted_kw() == {}
    for bus, cap in start.items():
        assert engine.screen(bus, 0).capacity_kw == pytest.approx(cap, abs=1e-6)


@pytest.mark.parametrize("drift", [False, True])
def test_all_grants_together_stay_within_limits_in_ac(small: Twin, drift: bool) -> None:
    """The whole twin fleet screened in order: the AC flow of everything granted agrees
    (to the tap changer's dead band without ``regulator_dead_band_drift``)."""
    rules = HostingRules(regulator_dead_band_drift=drift)
    eng = HostingEngine.build(small.network, small.injections, rules)
    eng.prepare(d.bus for d in small.network.ders)
    for d in small.network.ders:
        if d.p_max_kw > 0:
            cap = eng.screen(d.bus, d.p_max_kw).capacity_kw
            eng.grant(d.bus, min(d.p_max_kw, math.floor(cap)))
    assert sum(eng.granted_kw().values()) > 100.0
    ac = eng.verify("export")
    assert ac.v_over_max_pu <= (1e-4 if drift else AC_TOLERANCE_PU)
    assert ac.loading_max_pct <= 100.0
    assert np.isfinite(ac.v_min_pu)
