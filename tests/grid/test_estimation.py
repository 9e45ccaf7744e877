"""State estimation (power-grid-model WLS) on the ``small`` twin: with biased, noisy load
forecasts, SCADA's substation and feeder-head measurements bring the state closer to the
true one, and a violation the forecast hides is found from the estimate."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from openderms.control import detect_violations
from openderms.errors import ValidationError
from openderms.grid.engines.pgm_model import PgmModel
from openderms.grid.estimation import ScadaMeasurements, StateEstimator, estimate_state
from openderms.grid.model import Network
from openderms.grid.powerflow import PowerFlowResult
from openderms.sim.twin import Twin, build_twin


@pytest.fixture(scope="module")
def small() -> Twin:
    return build_twin("small")


def _scada(net: Network, r: PowerFlowResult, *, with_q: bool = True) -> ScadaMeasurements:
    index = {b: i for i, b in enumerate(r.branch_ids)}
    heads = {f.id: index[f.head] for f in net.feeders if f.head in index}
    sub_bus = net.sources[0].bus
    v = float(r.v_pu[list(r.node_bus).index(sub_bus)])
    return ScadaMeasurements(
        substation_p_kw=r.substation_p_kw,
        substation_q_kvar=r.substation_q_kvar if with_q else None,
        substation_v_pu=v,
        head_p_kw={f: float(r.p_from_kw[i]) for f, i in heads.items()},
        head_q_kvar={f: float(r.q_from_kvar[i]) for f, i in heads.items()} if with_q else {},
    )


def _forecast(net: Network, bias: float, noise: float, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    p = np.array([ld.p_kw for ld in net.loads])
    q = np.array([ld.q_kvar for ld in net.loads])
    k = bias * rng.normal(1.0, noise, len(p)).clip(0.2)
    return p * k, q * k


@pytest.mark.parametrize(("bias", "with_q"), [(1.3, True), (0.7, True), (1.3, False)])
def test_measurements_bring_the_state_closer_to_the_truth(
    small: Twin, bias: float, with_q: bool
) -> None:
    net = small.network_at(small.evening_peak_step)
    model = PgmModel.from_network(net)
    truth = model.solve(error_tolerance=1e-6)
    fp, fq = _forecast(net, bias, 0.2, seed=1)
    der_p = np.array([d.p_kw for d in net.ders])
    der_q = np.array([d.q_kvar for d in net.ders])
    scada = _scada(net, truth, with_q=with_q)
    est = estimate_state(
        model, scada, load_p_kw=fp, load_q_kvar=fq, der_p_kw=der_p, der_q_kvar=der_q
    )
    before = model.solve(load_p_kw=fp, load_q_kvar=fq, error_tolerance=1e-6)
    after = model.solve(load_p_kw=est.load_p_kw, load_q_kvar=est.load_q_kvar, error_tolerance=1e-6)
    rms_before, rms_after = (np.sqrt(np.mean((x.v_pu - truth.v_pu) ** 2)) for x in (before, after))
    assert rms_after < 0.5 * rms_before, (rms_before, rms_after)
    max_before, max_after = (np.abs(x.v_pu - truth.v_pu).max() for x in (before, after))
    assert max_after < max_before, (max_before, max_after)
    f_before = np.abs(before.p_from_kw - truth.p_from_kw).mean()
    f_after = np.abs(after.p_from_kw - truth.p_from_kw).mean()
    assert f_after < 0.5 * f_before, (f_before, f_after)
    true_total = sum(ld.p_kw for ld in net.loads)
    assert abs(est.load_p_kw.sum() - true_total) < 0.05 * abs(fp.sum() - true_total)
    assert est.max_head_mismatch_kw < 0.02 * max(abs(p) for p in scada.head_p_kw.values())


def test_a_violation_hidden_by_the_forecast_is_found_from_the_estimate(small: Twin) -> None:
    """Evening peak with loads 70 % above the profile: undervoltage on the network; the
    profile (the forecast) shows none, the estimate from the head measurements does."""
    base = small.network_at(small.evening_peak_step)
    fp = np.array([ld.p_kw for ld in base.loads])
    fq = np.array([ld.q_kvar for ld in base.loads])
    loads = tuple(
        dataclasses.replace(ld, p_kw=1.7 * ld.p_kw, q_kvar=1.7 * ld.q_kvar) for ld in base.loads
    )
    net = dataclasses.replace(base, loads=loads)
    model = PgmModel.from_network(net)
    truth = model.solve(error_tolerance=1e-6)
    true_keys = {v.key for v in detect_violations(truth, net)}
    assert true_keys
    forecast_keys = {
        v.key
        for v in detect_violations(
            model.solve(load_p_kw=fp, load_q_kvar=fq, error_tolerance=1e-6), net
        )
    }
    assert not forecast_keys & true_keys
    der_p = np.array([d.p_kw for d in net.ders])
    der_q = np.array([d.q_kvar for d in net.ders])
    est = StateEstimator(model).estimate(fp, fq, der_p, der_q, _scada(net, truth))
    seen = model.solve(load_p_kw=est.load_p_kw, load_q_kvar=est.load_q_kvar, error_tolerance=1e-6)
    found = {v.key for v in detect_violations(seen, net)}
    assert len(found & true_keys) >= 0.8 * len(true_keys), (found, true_keys)


def test_an_unknown_feeder_is_named(small: Twin) -> None:
    net = small.network
    model = PgmModel.from_network(net)
    zeros_l, zeros_d = np.zeros(len(net.loads)), np.zeros(len(net.ders))
    with pytest.raises(ValidationError, match="F99"):
        StateEstimator(model).estimate(
            zeros_l, zeros_l, zeros_d, zeros_d, ScadaMeasurements(head_p_kw={"F99": 1.0})
        )


def test_switch_states_are_those_of_the_model(small: Twin) -> None:
    """After a transfer the head of the opened feeder carries nothing, in the estimate too."""
    net = small.network
    f1, f2 = small.feeders[0], small.feeders[1]
    tie = next(t for t in f1.ties if t in f2.ties)
    model = PgmModel.from_network(net).with_switch_states({f1.head_breaker: False, tie: True})
    truth = model.solve(error_tolerance=1e-6)
    fp = np.array([ld.p_kw for ld in net.loads]) * 1.2
    fq = np.array([ld.q_kvar for ld in net.loads]) * 1.2
    der_p = np.array([d.p_kw for d in net.ders])
    est = StateEstimator(model).estimate(fp, fq, der_p, np.zeros_like(der_p), _scada(net, truth))
    assert abs(est.head_p_kw[f1.id]) < 1e-3
    assert abs(est.head_p_kw[f2.id] - truth.p_from_kw[truth.branch_ids.index(f2.id + "_CB")]) < 5
