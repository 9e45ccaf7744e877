"""Topology: islands, energisation, feeder membership, what is behind a switch, switching."""

from __future__ import annotations

import dataclasses

import pytest

from openderms.errors import UnknownElementError
from openderms.grid.topology import derive_topology, switch
from openderms.grid.topology_nodes import group_ders
from tests.grid.builders import line, two_feeders


def test_normal_state_is_radial_and_fully_energised() -> None:
    topo = derive_topology(two_feeders())
    assert topo.energised.all()
    assert topo.n_islands == 1
    assert topo.n_loops == 0
    feeder = dict(zip(topo.bus_ids, topo.feeder, strict=True))
    assert feeder["f1_2"] == "F1"
    assert feeder["lv1"] == "F1"
    assert feeder["f2_1"] == "F2"
    assert feeder["sub"] is None


def test_path_to_source_and_downstream() -> None:
    topo = derive_topology(two_feeders())
    assert topo.path_to_source("lv1") == ("t_sub", "brk1", "l1a", "t_svc1")
    down = {topo.bus_ids[i] for i in topo.downstream("f1_1")}
    assert down == {"f1_1", "f1_2", "lv1"}


def test_ders_behind_a_breaker() -> None:
    net = two_feeders()
    topo = derive_topology(net)
    assert set(topo.ders_behind(net, "brk1")) == {"pv1", "bat1"}
    assert topo.ders_behind(net, "brk2") == ("pv2",)
    assert topo.ders_behind(net, "tie12") == ()  # open: carries nothing


def test_opening_a_breaker_de_energises_its_feeder() -> None:
    net, topo = switch(two_feeders(), "brk1", closed=False)
    dead = {b for b, e in zip(topo.bus_ids, topo.energised.tolist(), strict=True) if not e}
    assert dead == {"f1_0", "f1_1", "f1_2", "lv1"}
    assert topo.n_islands == 2
    assert not net.switches[0].closed


def test_opflex_transfer_moves_load_to_the_neighbour_feeder() -> None:
    net, _ = switch(two_feeders(), "brk1", closed=False)
    net, topo = switch(net, "tie12", closed=True)
    assert topo.energised.all()
    feeder = dict(zip(topo.bus_ids, topo.feeder, strict=True))
    assert feeder["f1_0"] == "F2"
    assert feeder["lv1"] == "F2"
    assert topo.path_to_source("lv1") == ("t_sub", "brk2", "l2a", "tie12", "l1b", "t_svc1")
    assert set(topo.ders_behind(net, "tie12")) == {"pv1", "bat1"}


def test_closing_a_tie_without_opening_makes_a_loop() -> None:
    _, topo = switch(two_feeders(), "tie12", closed=True)
    assert topo.n_loops == 1
    assert topo.energised.all()


def test_unknown_switch_is_named() -> None:
    with pytest.raises(UnknownElementError, match="nope"):
        switch(two_feeders(), "nope", closed=True)


def test_topology_nodes_by_service_transformer() -> None:
    net = two_feeders()
    nodes = {n.id: n for n in group_ders(net, derive_topology(net))}
    assert set(nodes) == {"tx:t_svc1", "tx:bus:f2_1"}
    assert set(nodes["tx:t_svc1"].der_ids) == {"pv1", "bat1"}
    assert nodes["tx:t_svc1"].p_max_kw == pytest.approx(150.0)
    assert nodes["tx:t_svc1"].p_min_kw == pytest.approx(-50.0)
    assert nodes["tx:t_svc1"].feeder == "F1"


def test_topology_nodes_by_lateral_segment_follow_switching() -> None:
    net = two_feeders()
    nodes = {n.id: n.der_ids for n in group_ders(net, derive_topology(net), "lateral_segment")}
    assert set(nodes) == {"seg:brk1", "seg:brk2"}
    net, topo = switch(net, "brk1", closed=False)
    net, topo = switch(net, "tie12", closed=True)
    nodes = {n.id: n.der_ids for n in group_ders(net, topo, "lateral_segment")}
    assert set(nodes["seg:tie12"]) == {"pv1", "bat1"}


def test_de_energised_ders_are_grouped_apart() -> None:
    net, topo = switch(two_feeders(), "brk1", closed=False)
    nodes = {n.id: n for n in group_ders(net, topo)}
    dead = [n for n in nodes.values() if n.id.startswith("tx:de-energised")]
    assert len(dead) == 1
    assert set(dead[0].der_ids) == {"pv1", "bat1"}
    assert dead[0].feeder is None


def test_parallel_line_does_not_confuse_the_tree() -> None:
    net = two_feeders()
    net = dataclasses.replace(net, lines=(*net.lines, line("l1a_bis", "f1_0", "f1_1")))
    topo = derive_topology(net)
    assert topo.n_loops == 1
    assert topo.energised.all()
