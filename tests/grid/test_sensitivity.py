"""Sensitivities: LinDistFlow structure, and its error against exact finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from openderms.grid.sensitivity import (
    branch_flow,
    compare,
    der_buses,
    finite_difference,
    lindistflow,
)
from openderms.grid.topology import derive_topology, switch
from tests.grid.builders import two_feeders


def test_lindistflow_is_symmetric_and_monotone_along_a_path() -> None:
    net = two_feeders()
    buses = ("f1_0", "f1_1", "f1_2", "lv1")
    s = lindistflow(net, monitored=buses, injection=buses)
    assert np.allclose(s.dv_dp_pu_per_kw, s.dv_dp_pu_per_kw.T)
    # injecting at the far end raises every bus, more the farther it is along the path
    col = s.dv_dp_pu_per_kw[:, buses.index("f1_2")]
    assert np.all(np.diff(col[:3]) > 0)
    # lv1 is on another branch from f1_1: it sees f1_2's injection only up to f1_1
    assert col[3] == pytest.approx(col[1])
    assert np.all(s.dv_dq_pu_per_kvar > s.dv_dp_pu_per_kw)  # X > R on these lines


def test_other_feeder_sees_only_the_shared_substation_path() -> None:
    net = two_feeders()
    s = lindistflow(net, monitored=("f2_1", "f1_2"), injection=("f1_2",))
    own, other = s.dv_dp_pu_per_kw[1, 0], s.dv_dp_pu_per_kw[0, 0]
    assert 0 < other < own / 5  # only the substation transformer is shared


def test_branch_flow_sensitivity_marks_the_path() -> None:
    net = two_feeders()
    b = branch_flow(net, injection=("lv1", "f2_1"))
    flow = dict(zip(b.branch_ids, b.flow_per_kw.tolist(), strict=True))
    assert flow["t_svc1"] == [-1.0, 0.0]
    assert flow["brk1"] == [-1.0, 0.0]
    assert flow["brk2"] == [0.0, -1.0]
    assert flow["t_sub"] == [-1.0, -1.0]
    assert flow["l1b"] == [0.0, 0.0]


def test_sensitivities_follow_switching() -> None:
    net, _ = switch(two_feeders(), "brk1", closed=False)
    net, topo = switch(net, "tie12", closed=True)
    s = lindistflow(net, monitored=("f2_1",), injection=("lv1",), topo=topo)
    before = lindistflow(two_feeders(), monitored=("f2_1",), injection=("lv1",))
    assert s.dv_dp_pu_per_kw[0, 0] > 3 * before.dv_dp_pu_per_kw[0, 0]
    assert derive_topology(net).energised.all()


@pytest.mark.parametrize("engine", ["pgm", "opendss"])
def test_lindistflow_is_close_to_exact(engine: str) -> None:
    net = two_feeders()
    topo = derive_topology(net)
    monitored = tuple(b for b in topo.bus_ids if b not in ("src",))
    injection = der_buses(net)
    fast = lindistflow(net, monitored, injection, topo)
    exact = finite_difference(net, monitored, injection, engine=engine)  # type: ignore[arg-type]
    err = compare(fast, exact)
    assert err.pairs_compared == len(monitored) * len(injection)
    assert err.rel_error_dv_dp < 0.15
    assert err.rel_error_dv_dq < 0.15
    # exact sensitivities are physical: exporting raises every monitored voltage
    assert np.all(exact.dv_dq_pu_per_kvar > 0)
