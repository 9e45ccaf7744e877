"""The digital-twin substation: deterministic, consistent, realistic, and solvable."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from openderms.grid.model import Network, with_switch_state
from openderms.grid.topology import derive_topology
from openderms.grid.validation import validate_network
from openderms.sim.twin import PRESETS, Twin, build_twin, design_day, preset_names


@pytest.fixture(scope="module")
def small() -> Twin:
    return build_twin("small", seed=0)


@pytest.fixture(scope="module")
def camden() -> Twin:
    return build_twin("camden", seed=0)


def _kinds(net: Network, kind: str) -> list[float]:
    return [d.p_max_kw for d in net.ders if d.kind == kind]


def test_presets_are_registered() -> None:
    assert {"small", "camden"} <= set(preset_names())
    assert all(PRESETS[name].name == name for name in preset_names())
    with pytest.raises(ValueError, match="unknown twin preset 'nowhere'"):
        build_twin("nowhere")


def test_same_seed_same_twin_other_seed_other_twin(small: Twin) -> None:
    again = build_twin("small", seed=0)
    assert again.network == small.network
    for a, b in zip(
        dataclasses.astuple(again.injections), dataclasses.astuple(small.injections), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    other = build_twin("small", seed=1)
    assert other.network != small.network


@pytest.mark.parametrize("preset", ["small", "camden"])
def test_network_is_consistent(preset: str, small: Twin, camden: Twin) -> None:
    twin = small if preset == "small" else camden
    assert validate_network(twin.network) == ()
    assert derive_topology(twin.network).energised.all()


def test_sizes_of_the_presets(small: Twin, camden: Twin) -> None:
    assert len(small.network.ders) == PRESETS["small"].n_der
    assert 250 <= len(small.network.ders) <= 350
    assert len(small.network.buses) < 600
    assert 3500 <= len(camden.network.buses) <= 4500
    assert len(camden.network.ders) == 10_000
    assert 6 <= len(camden.network.feeders) <= 8
    assert len(camden.network.loads) > 5000


def test_everything_is_balanced_three_phase(camden: Twin) -> None:
    net = camden.network
    terminals = [ln.nodes1 for ln in net.lines] + [sw.nodes1 for sw in net.switches]
    terminals += [w.nodes for t in net.transformers for w in t.windings]
    terminals += [ld.nodes for ld in net.loads] + [d.nodes for d in net.ders]
    assert set(terminals) == {(1, 2, 3)}
    for ln in net.lines:
        r = np.array(ln.r_ohm_per_km)
        x = np.array(ln.x_ohm_per_km)
        assert np.ptp(np.diag(r)) == 0
        assert np.ptp(r[~np.eye(3, dtype=bool)]) == 0
        assert 0 < r[0, 1] < r[0, 0]
        assert 0 < x[0, 1] < x[0, 0]


def test_switchgear_feeders_and_ties(camden: Twin) -> None:
    net = camden.network
    switches = {sw.id: sw for sw in net.switches}
    feeder_ids = {f.id for f in net.feeders}
    for f, fl in zip(net.feeders, camden.feeders, strict=True):
        head = switches[f.head]
        assert f.head == fl.head_breaker
        assert head.kind == "breaker"
        assert head.closed
        assert fl.sectionalisers
        assert all(switches[s].closed for s in fl.sectionalisers)
        assert len(fl.ties) == 2  # camden's feeders fan out all around: two neighbours each
    assert len(camden.ties) == len(net.feeders)
    for tie in camden.ties:
        sw = switches[tie.switch]
        assert (sw.kind, sw.closed, sw.normally_closed) == ("tie", False, False)
        assert {tie.feeder_a, tie.feeder_b} <= feeder_ids
        assert tie.feeder_a != tie.feeder_b
    assert camden.bus_tie is not None
    assert not switches[camden.bus_tie].closed


def test_equipment_and_customers_are_realistic(camden: Twin) -> None:
    net = camden.network
    assert {round(ln.ampacity_a) for ln in net.lines} == {230, 530}
    z1_ohm_per_km = [ln.r_ohm_per_km[0][0] - ln.r_ohm_per_km[0][1] for ln in net.lines]
    assert min(z1_ohm_per_km) > 0.15
    assert max(z1_ohm_per_km) < 0.8
    subs = [t for t in net.transformers if t.kind == "substation"]
    assert [t.s_kva for t in subs] == [28_000.0, 28_000.0]
    assert all(t.windings[0].conn == "delta" and t.windings[1].conn == "wye" for t in subs)
    service = [t for t in net.transformers if t.kind == "service"]
    homes = [t.s_kva for t in service if t.windings[1].v_kv < 0.3]
    shops = [t.s_kva for t in service if t.windings[1].v_kv > 0.3]
    assert min(homes) >= 25
    assert max(homes) <= 150
    assert min(shops) >= 75
    assert max(shops) <= 1000
    day_max_kw = camden.injections.load_p_kw.max(axis=0)
    residential = np.array([ld.v_kv < 0.3 for ld in net.loads])
    assert 0.5 < np.median(day_max_kw[residential]) < 5.0
    assert 20 < np.median(day_max_kw[~residential]) < 500
    assert all(ld.customers == 1 for ld in net.loads)


def test_der_fleet_is_sized_like_real_systems(camden: Twin) -> None:
    net = camden.network
    pv = np.array(_kinds(net, "pv"))
    assert pv.min() >= 4.0
    assert pv.max() <= 500.0
    assert ((pv >= 50) | (pv <= 10)).all()  # homes 4-10 kW, businesses 50-500 kW
    for d in net.ders:
        assert d.s_kva >= max(d.p_max_kw, -d.p_min_kw) > 0
        if d.kind == "battery":
            assert 5.0 <= d.e_kwh <= 13.5
            assert d.p_min_kw == -d.p_max_kw < 0
        elif d.kind == "ev_charger":
            assert d.p_max_kw == 0
            assert -11.5 <= d.p_min_kw <= -7.2
            assert d.e_kwh == 0
        else:
            assert d.kind == "pv"
            assert d.p_min_kw == 0


def test_buses_have_map_coordinates(camden: Twin) -> None:
    xy = np.array([(b.x, b.y) for b in camden.network.buses], dtype=np.float64)
    assert np.isfinite(xy).all()
    radius_m = np.hypot(xy[:, 0], xy[:, 1])
    assert 3_000 < radius_m.max() < 15_000


def test_design_day_profiles(small: Twin) -> None:
    timestamps, inj = design_day(small)
    assert len(timestamps) == 96 == inj.n_steps
    assert all(t.tzinfo is not None and t.utcoffset() == timedelta(0) for t in timestamps)
    assert {b - a for a, b in itertools.pairwise(timestamps)} == {timedelta(minutes=15)}
    local = timestamps[0].astimezone(ZoneInfo(small.config.timezone))
    assert (local.date(), local.hour, local.minute) == (small.config.day, 0, 0)
    assert inj.load_p_kw.shape == inj.load_q_kvar.shape == (96, len(small.network.loads))
    assert inj.der_p_kw.shape == inj.der_q_kvar.shape == (96, len(small.network.ders))
    assert (inj.load_p_kw > 0).all()


def test_operating_point_is_solar_noon(small: Twin) -> None:
    inj = small.injections
    assert [ld.p_kw for ld in small.network.loads] == inj.load_p_kw[small.noon_step].tolist()
    assert [d.p_kw for d in small.network.ders] == inj.der_p_kw[small.noon_step].tolist()
    noon_local = small.timestamps[small.noon_step].astimezone(ZoneInfo(small.config.timezone))
    assert 12.5 <= noon_local.hour + noon_local.minute / 60 <= 13.5  # daylight saving time
    assert small.network_at(small.noon_step) == small.network


def test_pv_is_dark_at_night_and_peaks_at_solar_noon(camden: Twin) -> None:
    pv = np.array([d.kind == "pv" for d in camden.network.ders])
    total_kw = camden.injections.der_p_kw[:, pv].sum(axis=1)
    tz = ZoneInfo(camden.config.timezone)
    hours = np.array([t.astimezone(tz).hour for t in camden.timestamps])
    assert (total_kw[(hours < 5) | (hours >= 21)] == 0).all()
    assert (camden.injections.der_p_kw[:, pv] >= 0).all()
    assert abs(int(np.argmax(total_kw)) - camden.noon_step) <= 4  # within an hour
    assert total_kw.max() > 0.6 * sum(_kinds(camden.network, "pv"))


def test_batteries_and_ev_chargers_behave(camden: Twin) -> None:
    ders = camden.network.ders
    p = camden.injections.der_p_kw
    tz = ZoneInfo(camden.config.timezone)
    hours = np.array([t.astimezone(tz).hour for t in camden.timestamps])
    bat = np.array([d.kind == "battery" for d in ders])
    charged_kwh = -np.minimum(p[:, bat], 0).sum(axis=0) * 0.25
    discharged_kwh = np.maximum(p[:, bat], 0).sum(axis=0) * 0.25
    e_kwh = np.array([d.e_kwh for d in ders])[bat]
    assert (charged_kwh <= e_kwh + 1e-6).all()
    assert (discharged_kwh <= charged_kwh + 1e-6).all()
    assert p[(hours >= 10) & (hours < 13)][:, bat].mean() < 0  # charging from midday PV
    assert p[(hours >= 17) & (hours < 20)][:, bat].mean() > 0  # discharging into the peak
    ev = np.array([d.kind == "ev_charger" for d in ders])
    rating = np.array([d.p_min_kw for d in ders])[ev]
    assert (p[:, ev] <= 0).all()
    assert (p[:, ev] >= rating - 1e-6).all()
    session_kwh = -p[:, ev].sum(axis=0) * 0.25
    assert session_kwh.min() >= 6 - 0.01
    assert session_kwh.max() <= 24 + 0.01


def test_steps_of_interest() -> None:
    twin = build_twin("small", seed=2)
    tz = ZoneInfo(twin.config.timezone)
    assert twin.timestamps[twin.night_step].astimezone(tz).hour == 3
    peak_local = twin.timestamps[twin.evening_peak_step].astimezone(tz)
    assert 17 <= peak_local.hour <= 23
    assert twin.timestamps[0].tzinfo == UTC


# ---------------------------------------------------------------- with the power-grid-model engine


@pytest.mark.parametrize("preset", ["small", "camden"])
def test_noon_pv_lifts_voltages_but_night_and_peak_stay_inside(
    preset: str, small: Twin, camden: Twin
) -> None:
    from openderms.grid.powerflow import solve

    twin = small if preset == "small" else camden
    noon = solve(twin.network, engine="pgm")
    assert noon.converged
    assert noon.v_pu.max() > 1.05
    for step in (twin.night_step, twin.evening_peak_step):
        res = solve(twin.network_at(step), engine="pgm")
        assert res.converged
        assert res.v_pu.max() < 1.05
        assert res.v_pu.min() > 0.93  # ANSI range A (0.95) or nearly


def test_a_feeder_can_be_carried_by_its_neighbour(camden: Twin) -> None:
    from openderms.grid.powerflow import solve

    f1 = camden.feeders[0]
    for opened, step in ((f1.head_breaker, camden.noon_step), (f1.sectionalisers[-1], None)):
        base = camden.network if step is not None else camden.network_at(camden.evening_peak_step)
        net = with_switch_state(with_switch_state(base, opened, False), f1.ties[0], True)
        assert derive_topology(net).energised.all()
        res = solve(net, engine="pgm")
        assert res.converged
        assert res.v_pu.min() > 0.8
