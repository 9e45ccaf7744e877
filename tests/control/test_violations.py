"""Violation detection: per-bus voltage limits, branch loading, substation net load, hysteresis."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from openderms.control import (
    CLEARING_HYSTERESIS,
    Margins,
    NetLoadLimits,
    NetLoadWindow,
    Violation,
    cleared,
    detect_violations,
)
from openderms.grid.model import Bus, Network
from openderms.grid.powerflow import PowerFlowResult

V_LN = 12.47 / math.sqrt(3.0)


def _net() -> Network:
    return Network(
        name="buses",
        buses=(
            Bus("a", V_LN),
            Bus("b", V_LN),
            Bus("c", V_LN, v_min_pu=0.97, v_max_pu=1.03),  # tighter limits on one bus
            Bus("dead", V_LN),
        ),
    )


def _result(
    v_pu: dict[str, tuple[float, float, float]],
    loading_pct: dict[str, float],
    substation_p_kw: float = 0.0,
) -> PowerFlowResult:
    node_bus = tuple(b for b in v_pu for _ in range(3))
    kinds = tuple("transformer" if k.startswith("xf") else "line" for k in loading_pct)
    n_br = len(loading_pct)
    return PowerFlowResult(
        engine="hand",
        converged=True,
        iterations=1,
        node_ids=tuple(f"{b}.{p}" for b in v_pu for p in (1, 2, 3)),
        node_bus=node_bus,
        v_pu=np.array([v for vs in v_pu.values() for v in vs]),
        v_angle_deg=np.zeros(len(node_bus)),
        branch_kind=kinds,
        branch_ids=tuple(loading_pct),
        i_max_a=np.zeros(n_br),
        loading_pct=np.array(list(loading_pct.values())),
        p_from_kw=np.zeros(n_br),
        q_from_kvar=np.zeros(n_br),
        substation_p_kw=substation_p_kw,
        substation_q_kvar=0.0,
        losses_kw=0.0,
        solve_s=0.0,
    )


def test_each_bus_against_its_own_limits_worst_first_and_dead_buses_ignored() -> None:
    r = _result(
        {
            "a": (1.00, 1.06, 1.01),  # one phase high
            "b": (0.94, 1.00, 1.00),  # one phase low
            "c": (1.04, 1.04, 1.04),  # fine for a, but c's limit is 1.03
            "dead": (0.0, 0.0, 0.0),  # isolated by an open switch: not an undervoltage
        },
        {"l1": 99.0},
    )
    found = detect_violations(r, _net())
    assert [(v.kind, v.element_id) for v in found] == [
        ("overvoltage", "a"),
        ("overvoltage", "c"),
        ("undervoltage", "b"),
    ]
    assert found[0].value == pytest.approx(1.06)
    assert found[0].limit == pytest.approx(1.05)
    assert found[0].excess == pytest.approx(0.01)
    assert found[0].unit == "pu"
    assert found[2].excess == pytest.approx(0.01)  # 0.95 - 0.94, positive
    assert "undervoltage at b: 0.94 pu < 0.95 pu" in str(found[2])


def test_thermal_over_100_percent_of_any_branch_kind() -> None:
    r = _result({"a": (1.0, 1.0, 1.0)}, {"l1": 100.0, "xf1": 120.0, "sw1": 100.5})
    found = detect_violations(r, _net())
    assert [(v.element_id, v.unit) for v in found] == [("xf1", "pct"), ("sw1", "pct")]
    assert found[0].excess == pytest.approx(20.0)


def test_net_load_import_and_reverse_flow_limits() -> None:
    limits = NetLoadLimits(import_max_kw=5000.0, reverse_flow_max_kw=2000.0)
    imp = detect_violations(_result({"a": (1, 1, 1)}, {}, 5500.0), _net(), limits)
    rev = detect_violations(_result({"a": (1, 1, 1)}, {}, -2500.0), _net(), limits)
    ok = detect_violations(_result({"a": (1, 1, 1)}, {}, -1999.0), _net(), limits)
    assert [(v.kind, v.value, v.limit, v.excess) for v in imp] == [
        ("net_load_import", 5500.0, 5000.0, 500.0)
    ]
    assert [(v.kind, v.value, v.excess) for v in rev] == [("reverse_flow", 2500.0, 500.0)]
    assert ok == ()


def test_net_load_windows_override_the_defaults() -> None:
    evening = NetLoadWindow(
        start=datetime(2024, 7, 18, 0, 0, tzinfo=UTC),
        end=datetime(2024, 7, 18, 4, 0, tzinfo=UTC),
        import_max_kw=3000.0,
    )
    limits = NetLoadLimits(import_max_kw=5000.0, windows=(evening,))
    r = _result({"a": (1, 1, 1)}, {}, 4000.0)
    assert detect_violations(r, _net(), limits, when=datetime(2024, 7, 17, 20, tzinfo=UTC)) == ()
    inside = detect_violations(r, _net(), limits, when=datetime(2024, 7, 18, 1, tzinfo=UTC))
    assert [v.limit for v in inside] == [3000.0]
    assert limits.at(datetime(2024, 7, 18, 1, tzinfo=UTC)) == (3000.0, None)


def test_margins_tighten_every_limit() -> None:
    r = _result({"a": (1.047, 1.047, 1.047)}, {"l1": 99.0}, 4990.0)
    limits = NetLoadLimits(import_max_kw=5000.0)
    assert detect_violations(r, _net(), limits) == ()
    tight = detect_violations(
        r, _net(), limits, margins=Margins(v_pu=0.005, loading_pct=2.0, p_kw=20.0)
    )
    assert [(v.kind, round(v.limit, 3)) for v in tight] == [
        ("overvoltage", 1.045),
        ("thermal", 98.0),
        ("net_load_import", 4980.0),
    ]


def test_cleared_needs_the_hysteresis_margin() -> None:
    before = detect_violations(_result({"a": (1.06, 1.06, 1.06)}, {"l1": 110.0}), _net())
    assert {v.key for v in before} == {"overvoltage:a", "thermal:l1"}
    # back just inside the limits: not cleared yet (it would chatter)
    barely = _result({"a": (1.049, 1.049, 1.049)}, {"l1": 99.0})
    assert cleared(before, barely, _net()) == ()
    # inside by the hysteresis: cleared
    well = _result(
        {"a": (1.05 - CLEARING_HYSTERESIS.v_pu - 0.001,) * 3},
        {"l1": 100.0 - CLEARING_HYSTERESIS.loading_pct - 1.0},
    )
    assert {v.key for v in cleared(before, well, _net())} == {"overvoltage:a", "thermal:l1"}


def test_violation_key_and_excess_sign() -> None:
    v = Violation("reverse_flow", "substation", 2500.0, 2000.0, "kw")
    assert v.key == "reverse_flow:substation"
    assert v.excess == 500.0
