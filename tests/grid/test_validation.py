"""Network validation names the element, the field and the value."""

from __future__ import annotations

import dataclasses

import pytest

from openderms.errors import NetworkValidationError
from openderms.grid.model import Bus, Load
from openderms.grid.validation import check_network, validate_network
from tests.grid.builders import ABC, line, two_feeders


def test_sound_network_has_no_issue() -> None:
    assert validate_network(two_feeders()) == ()


def test_dangling_bus_is_named() -> None:
    net = two_feeders()
    net = dataclasses.replace(net, lines=(*net.lines, line("l_bad", "f1_2", "nowhere")))
    issues = validate_network(net)
    assert len(issues) == 1
    i = issues[0]
    assert (i.object_kind, i.object_id, i.field, i.value) == ("line", "l_bad", "bus2", "nowhere")


def test_zero_rating_and_bad_matrix() -> None:
    net = two_feeders()
    bad = dataclasses.replace(net.lines[0], ampacity_a=0.0, r_ohm_per_km=((1.0, 0.0),))
    net = dataclasses.replace(net, lines=(bad, *net.lines[1:]))
    fields = {(i.object_id, i.field) for i in validate_network(net)}
    assert ("l1a", "ampacity_a") in fields
    assert ("l1a", "r_ohm_per_km") in fields


def test_duplicate_ids_and_bad_limits() -> None:
    net = two_feeders()
    net = dataclasses.replace(
        net,
        loads=(*net.loads, Load("ld1", "f1_1", ABC, "wye", 1.0, 0.0, 12.47)),
        buses=(*net.buses[:-1], Bus("lv1", 0.277, v_min_pu=1.1, v_max_pu=1.0)),
    )
    fields = {(i.object_kind, i.object_id, i.field) for i in validate_network(net)}
    assert ("load", "ld1", "id") in fields
    assert ("bus", "lv1", "v_min_pu/v_max_pu") in fields


def test_island_with_no_source_is_an_error_but_an_open_switch_is_not() -> None:
    net = two_feeders()
    isolated = dataclasses.replace(
        net,
        buses=(*net.buses, Bus("far1", 7.2), Bus("far2", 7.2)),
        lines=(*net.lines, line("l_far", "far1", "far2")),
    )
    with pytest.raises(NetworkValidationError) as err:
        check_network(isolated)
    (issue,) = err.value.issues
    assert issue.field == "island"
    assert issue.object_id in {"far1", "far2"}
    opened = dataclasses.replace(
        net, switches=tuple(dataclasses.replace(s, closed=False) for s in net.switches)
    )
    check_network(opened)


def test_error_message_names_object_field_value() -> None:
    net = dataclasses.replace(two_feeders(), sources=())
    with pytest.raises(NetworkValidationError, match=r"network 'two-feeders': sources=0"):
        check_network(net)
