"""The loop's state: DER views from telemetry (late messages, silence), the fleet the
dispatch sees (uncontrollable DER fixed at their fallback), loads from measurements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from openderms.services.control_loop import GridState
from openderms.services.control_loop.sim import telemetry_payload
from openderms.sim.twin import Twin

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
