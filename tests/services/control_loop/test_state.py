"""The loop's state: DER views from telemetry (late messages, silence), the fleet the
dispatch sees (uncontrollable DER fixed at their fallback), loads from measurements."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import numpy as np

from openderms.control import detect_violations
from openderms.grid.engines.pgm_model import PgmModel
from openderms.grid.model import Network
from openderms.grid.powerflow import PowerFlowResult
from openderms.services.control_loop import GridState
from openderms.services.control_loop.sim import telemetry_payload
from openderms.sim.twin import Twin
from tests.services.control_loop.conftest import MakeHarness

T0 = datetime(2026, 7, 15, 19, 0, tzinfo=UTC)


def test_telemetry_updates_a_view_and_late_messages_are_ignored(small: Twin) -> None:
    state = GridState(small.network)
    pv = next(d for d in small.network.ders if d.kind == "pv")
    view = state.ders[pv.id]
    view.ingest(telemetry_payload(T0, 2.0, -0.5, 3.0, 60.0))
    view.ingest(telemetry_payload(T0 - timedelta(seconds=5), 9.0, 0.0, 9.0, 60.0))
    assert (view.p_kw, view.q_kvar, view.p_available_kw) == (2.0, -0.5, 3.0)
    assert view.headroom_kw == 1.0
    assert view.telemetry_period_s == 60.0
    assert not view.is_silent(T0 + timedelta(seconds=180), 3.0)
    assert view.is_silent(T0 + timedelta(seconds=181), 3.0)


def test_the_fleet_fixes_uncontrollable_der_at_their_fallback(small: Twin) -> None:
    state = GridState(small.network)
    pvs = [d for d in small.network.ders if d.kind == "pv" and d.p_kw > 2.0][:2]
    silent, ignoring = state.ders[pvs[0].id], state.ders[pvs[1].id]
    silent.fallback_p_max_kw = 1.0
    silent.silent = True
    ignoring.ignores_controls = True
    fleet = state.fleet()
    i, j = fleet.ids.index(silent.der_id), fleet.ids.index(ignoring.der_id)
    assert fleet.p_kw[i] == 1.0  # at its default cap
    assert fleet.p_present_kw[i] == 1.0
    assert fleet.p_kw[j] == ignoring.p_available_kw  # runs uncontrolled
    assert not fleet.controllable[i]
    assert not fleet.controllable[j]
    assert fleet.controllable.sum() == len(fleet) - 2


def test_measured_loads_change_the_state(small: Twin) -> None:
    state = GridState(small.network)
    fleet = state.fleet()
    before = state.solve(fleet.p_present_kw, fleet.q_present_kvar).substation_p_kw
    load = small.network.loads[0]
    state.ingest_measurements({"loads": {load.id: {"p_kw": load.p_kw + 100.0}}})
    after = state.solve(fleet.p_present_kw, fleet.q_present_kvar).substation_p_kw
    assert after - before > 100.0  # the load plus its losses
    state.set_loads(np.zeros(len(small.network.loads)), np.zeros(len(small.network.loads)))
    assert state.load_p_kw.sum() == 0.0


def _scada_payload(net: Network, r: PowerFlowResult) -> dict[str, object]:
    """What SCADA reports: substation P/Q/V and each feeder head's P/Q (no loads)."""
    index = {b: i for i, b in enumerate(r.branch_ids)}
    v_sub = float(r.v_pu[list(r.node_bus).index(net.sources[0].bus)])
    return {
        "substation": {"p_kw": r.substation_p_kw, "q_kvar": r.substation_q_kvar, "v_pu": v_sub},
        "feeder_heads": {
            f.id: {"p_kw": float(r.p_from_kw[index[f.head]]), "q_kvar": None} for f in net.feeders
        },
    }


def test_the_loop_finds_violations_from_scada_that_the_forecast_hides(
    small: Twin, make_harness: MakeHarness
) -> None:
    """Evening peak, real loads 70 % above the forecast the loop holds: thermal overloads
    only SCADA's head measurements reveal; the estimate finds most of them."""
    base = small.network_at(small.evening_peak_step)
    forecast_p = np.array([ld.p_kw for ld in base.loads])
    forecast_q = np.array([ld.q_kvar for ld in base.loads])
    loads = tuple(
        dataclasses.replace(ld, p_kw=1.7 * ld.p_kw, q_kvar=1.7 * ld.q_kvar) for ld in base.loads
    )
    net = dataclasses.replace(base, loads=loads)
    true_keys = {v.key for v in detect_violations(PgmModel.from_network(net).solve(), net)}
    assert true_keys
    blind = make_harness(net, defaults=False)
    blind.loop.state.set_loads(forecast_p, forecast_q)
    assert not {v.key for v in blind.run(1).violations} & true_keys
    assert blind.loop.state.estimated is None
    h = make_harness(net, defaults=False)
    h.loop.state.set_loads(forecast_p, forecast_q)
    truth = PgmModel.from_network(h.fleet.network(h.clock.now())).solve(error_tolerance=1e-6)
    h.loop.ingest_measurements(_scada_payload(net, truth))
    h.loop.ingest_measurements({"substation": {"v_pu": None}})  # by exception: kept
    assert h.loop.state.scada.substation_v_pu is not None
    found = {v.key for v in h.run(1).violations}
    assert h.loop.state.estimated is not None, h.loop.state.estimation_note
    assert len(found & true_keys) >= 0.8 * len(true_keys), (found, true_keys)
    assert len(found - true_keys) <= 0.2 * len(true_keys), found - true_keys


def test_a_bad_measurement_falls_back_to_the_forecast(small: Twin) -> None:
    state = GridState(small.network)
    state.ingest_measurements({"feeder_heads_p_kw": {"NO_SUCH_FEEDER": 10.0}})
    n = len(small.network.ders)
    assert state.estimate(np.zeros(n), np.zeros(n)) is None
    assert "NO_SUCH_FEEDER" in state.estimation_note


def test_a_switching_drops_the_head_flows_of_the_old_topology(small: Twin) -> None:
    state = GridState(small.network)
    state.ingest_measurements(
        {"substation": {"p_kw": 100.0}, "feeder_heads_p_kw": {small.feeders[0].id: 50.0}}
    )
    assert state.scada.head_p_kw
    assert state.apply_switch_states({small.feeders[0].head_breaker: False})
    assert state.scada.head_p_kw == {}
    assert state.scada.substation_p_kw == 100.0
