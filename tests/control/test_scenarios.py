"""Use cases 3, 4 and 5 of the pilot on the digital twins, each ending with an AC power flow.

- UC5 (voltage): the ``small`` twin at solar noon, where uncontrolled PV lifts low-voltage buses
  above 1.05 pu: vars first, then curtailment.
- UC3 (thermal): a service transformer of the ``small`` twin rated below the PV behind it at
  noon (curtailment behind it); the ``camden`` twin at its evening peak, where 28 service
  transformers are overloaded by load (batteries discharge, EV chargers charge less).
- UC4 (substation net load): a reverse-flow limit at noon on ``medium`` (storage charges before
  PV is curtailed) and a peak import limit in the evening on ``camden`` (batteries, EVs).

Each test solves an independent AC power flow with the plan's set points and lists the
controls that cleared the violations in its failure message (``scenario.describe``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from openderms.control import DispatchOptions, NetLoadLimits
from openderms.grid.engines.pgm_model import PgmModel
from openderms.grid.model import Network
from openderms.sim.twin import Twin
from tests.control.scenario import describe, run


def test_uc5_voltage_small_noon_vars_first(small: Twin) -> None:
    out = run(small.network)
    plan = out.plan
    assert {v.kind for v in plan.violations_before} == {"overvoltage"}, describe(plan)
    assert len(plan.violations_before) >= 10
    assert out.after == (), describe(plan, out.after)
    assert plan.ac_violations == ()
    assert plan.q_used_kvar > 0.0
    assert plan.curtailed_kw < 0.1 * plan.q_used_kvar, describe(plan)  # vars did most of it
    assert all(c.constraint.startswith("overvoltage:") for c in plan.controls)
    assert all("dV/dQ" in c.reason or "dV/dP" in c.reason for c in plan.controls)
    assert out.heuristic.predicted_violations == (), describe(out.heuristic)


def _derated(net: Network) -> tuple[Network, str, tuple[str, ...], float]:
    """``net`` with a service transformer rated at 75 % of its flow (and that flow, positive
    towards the customers): the one exporting the most (or importing the least) among those
    whose low-voltage bus is well inside its voltage limits (so the thermal limit alone asks
    for relief) and whose flow is mostly active power (so active power alone can relieve it)."""
    result = PgmModel.from_network(net).solve()
    v = result.bus_v_range_pu()
    service = {
        t.id: t for t in net.transformers if t.kind == "service" and v[t.windings[1].bus][1] < 1.04
    }
    k = min(
        (
            i
            for i, b in enumerate(result.branch_ids)
            if b in service and abs(result.q_from_kvar[i]) < 0.3 * abs(result.p_from_kw[i])
        ),
        key=lambda i: result.p_from_kw[i],  # most negative: the largest export
    )
    tr = service[result.branch_ids[k]]
    s_kva = 0.75 * float(np.hypot(result.p_from_kw[k], result.q_from_kvar[k]))
    windings = tuple(dataclasses.replace(w, s_kva=s_kva) for w in tr.windings)
    trs = tuple(
        dataclasses.replace(t, windings=windings) if t is tr else t for t in net.transformers
    )
    lv = tr.windings[1].bus
    behind = tuple(d.id for d in net.ders if d.bus == lv)
    return dataclasses.replace(net, transformers=trs), tr.id, behind, float(result.p_from_kw[k])


def test_uc3_thermal_small_noon_relieves_the_transformer(small: Twin) -> None:
    net, tr_id, behind, p_in_kw = _derated(small.network)
    for options in (None, DispatchOptions(use_reactive=False)):
        out = run(net, options=options)
        plan = out.plan
        assert f"thermal:{tr_id}" in {v.key for v in plan.violations_before}, describe(plan)
        assert out.after == (), describe(plan, out.after)
        thermal = [c for c in plan.controls if c.constraint == f"thermal:{tr_id}"]
        assert thermal, describe(plan)
        assert {c.der_id for c in thermal} <= set(behind)
        for c in thermal:  # active power moves against the flow, or vars move
            i = out.fleet.ids.index(c.der_id)
            if c.q_kvar is None:  # importing: export more (EVs charge less); else export less
                assert (plan.der_p_kw[i] - out.fleet.p_kw[i]) * p_in_kw > 0
                assert "dLoading/dP" in c.reason
            else:
                assert "dLoading/dQ" in c.reason or "dLoading/dP" in c.reason
        if options is not None:  # active power only: the DER behind it export less
            assert all(c.q_kvar is None for c in plan.controls)
            assert plan.curtailed_kw + plan.shifted_kw > 0.0


@pytest.mark.slow
def test_uc3_thermal_camden_evening_peak_storage_relieves_transformers(camden: Twin) -> None:
    out = run(camden.network_at(camden.evening_peak_step))
    plan = out.plan
    thermal = [v for v in plan.violations_before if v.kind == "thermal"]
    assert len(thermal) >= 20, describe(plan)
    assert out.after == (), describe(plan, out.after)
    assert plan.curtailed_kw == 0.0  # no PV at the evening peak: storage does it
    assert plan.shifted_kw > 0.0
    assert {out.fleet.kind[out.fleet.ids.index(c.der_id)] for c in plan.controls} <= {
        "battery",
        "ev_charger",
    }
    assert plan.solve_s < 5.0  # generous: timings are for bench/dispatch.py


def test_uc4_reverse_flow_limit_medium_noon_storage_before_curtailment(medium: Twin) -> None:
    net = medium.network
    limit_kw = 1000.0
    out = run(net, NetLoadLimits(reverse_flow_max_kw=limit_kw))
    plan = out.plan
    assert "reverse_flow:substation" in {v.key for v in plan.violations_before}, describe(plan)
    assert out.after == (), describe(plan, out.after)
    assert plan.shifted_kw > 0.0
    storage = [c for c in plan.controls if c.p_kw is not None]
    assert storage
    assert all(c.p_kw is not None and c.p_kw <= 0.0 for c in storage if "reverse" in c.reason)
    reasons = {c.constraint for c in plan.controls}
    assert "reverse_flow:substation" in reasons, describe(plan)


@pytest.mark.slow
def test_uc4_peak_import_limit_camden_batteries_and_ev_chargers(camden: Twin) -> None:
    net = camden.network_at(camden.evening_peak_step)
    out = run(net, NetLoadLimits(import_max_kw=36_000.0))
    plan = out.plan
    assert "net_load_import:substation" in {v.key for v in plan.violations_before}
    assert out.after == (), describe(plan, out.after)
    assert plan.curtailed_kw == 0.0
    assert plan.shifted_kw >= 1_000.0  # at least the ~1.1 MW over the limit
    moved = {out.fleet.kind[out.fleet.ids.index(c.der_id)] for c in plan.controls}
    assert moved <= {"battery", "ev_charger"}
    assert "battery" in moved
