"""Planned switching orders: validation, the schedule (apply early, revert at end, replace,
cancel), a planned feeder transfer through the whole loop, and orders from the bus."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from openderms.bus import subjects as sub
from openderms.errors import ValidationError
from openderms.grid.engines.pgm_model import PgmModel
from openderms.grid.model import Network
from openderms.services.control_loop import ControlLoopRunner, LoopConfig
from openderms.services.control_loop.orders import (
    SwitchingOrder,
    SwitchingSchedule,
    order_from_payload,
    order_payload,
)
from openderms.sim.twin import Twin
from tests.bus.conftest import MakeBus
from tests.services.control_loop.conftest import MakeHarness

T0 = datetime(2026, 7, 15, 2, 0, tzinfo=UTC)
SWITCHES = {"CB1", "TIE1"}


def _issue_fields(e: ValidationError) -> set[tuple[str, str, object]]:
    return {(i.object_id, i.field, i.value) for i in e.issues}


def test_a_bad_order_names_the_order_field_and_value() -> None:
    with pytest.raises(ValidationError) as e:
        order_from_payload(
            {"order_id": "o7", "switch_id": "NOPE", "closed": "yes", "start": "soon", "end": None},
            SWITCHES,
        )
    assert _issue_fields(e.value) == {("o7", "start", "soon")}
    with pytest.raises(ValidationError) as e:
        order_from_payload(
            {
                "order_id": "o7",
                "switch_id": "NOPE",
                "closed": "yes",
                "start": T0.isoformat(),
                "end": (T0 - timedelta(hours=1)).isoformat(),
            },
            SWITCHES,
        )
    fields = _issue_fields(e.value)
    assert ("o7", "switch_id", "NOPE") in fields
    assert ("o7", "closed", "yes") in fields
    assert any(f[1] == "end" for f in fields)
    assert "NOPE" in str(e.value)
    with pytest.raises(ValidationError, match="start"):
        order_from_payload({"order_id": "o8", "switch_id": "CB1", "closed": True}, SWITCHES)


def test_payload_round_trip_with_z_times() -> None:
    order = order_from_payload(
        {
            "order_id": "o1",
            "switch_id": "CB1",
            "closed": False,
            "start": "2026-07-15T02:00:00Z",
            "end": None,
        },
        SWITCHES,
    )
    assert order == SwitchingOrder("o1", "CB1", False, T0, None)
    assert order_from_payload(order_payload(order), SWITCHES) == order


def test_schedule_applies_early_reverts_at_end_and_follows_replace_and_cancel() -> None:
    s = SwitchingSchedule()
    states = {"CB1": True, "TIE1": False}
    start, end = T0 + timedelta(minutes=10), T0 + timedelta(minutes=40)
    s.put(SwitchingOrder("a", "CB1", False, start, end))
    assert s.due(T0, 120.0, states) == ({}, [])
    changes, events = s.due(start - timedelta(seconds=120), 120.0, states)
    assert changes == {"CB1": False}
    assert [e.action for e in events] == ["applied"]
    states["CB1"] = False
    assert s.due(start, 120.0, states)[0] == {}  # applied once, not again
    changes, events = s.due(end, 120.0, states)
    assert changes == {"CB1": True}
    assert [e.action for e in events] == ["reverted"]
    assert s.orders == {}
    # replaced by another switch while applied: the first returns, the second is set
    states["CB1"] = True
    s.put(SwitchingOrder("b", "CB1", False, start, end))
    s.due(start, 0.0, states)
    states["CB1"] = False
    assert s.put(SwitchingOrder("b", "TIE1", True, start, end)) is not None
    changes, _ = s.due(start + timedelta(minutes=1), 0.0, states)
    assert changes == {"CB1": True, "TIE1": True}
    states.update(changes)
    # a replacement whose window is over cancels it; so does cancel()
    s.put(SwitchingOrder("b", "TIE1", True, start, start))
    changes, events = s.due(start + timedelta(minutes=2), 0.0, states)
    assert changes == {"TIE1": False}
    assert s.orders == {}
    s.put(SwitchingOrder("c", "CB1", False, start, None))
    assert s.due(start, 0.0, states)[0] == {"CB1": False}
    assert s.due(start + timedelta(days=30), 0.0, {"CB1": False})[0] == {}  # for good
    assert s.cancel("c") is not None
    assert s.due(start + timedelta(days=30), 0.0, {"CB1": False})[0] == {"CB1": True}


def _transfer_case(small: Twin) -> tuple[Network, str, str, str]:
    """Noon with PV at 70 % (no violation in the normal topology) and F1's trunk line
    ``LN_F1_T10`` rated so that carrying F1 across the F1-F2 tie overloads it by 25 %."""
    f1, f2 = small.feeders[0], small.feeders[1]
    tie = next(t for t in f1.ties if t in f2.ties)
    net = small.network
    ders = tuple(dataclasses.replace(d, p_kw=0.7 * d.p_kw) if d.p_kw > 0 else d for d in net.ders)
    net = dataclasses.replace(net, ders=ders)
    line = "LN_F1_T10"
    r = PgmModel.from_network(net).with_switch_states({f1.head_breaker: False, tie: True}).solve()
    loading = float(r.loading_pct[r.branch_ids.index(line)]) / 100.0
    lines = tuple(
        dataclasses.replace(ln, ampacity_a=ln.ampacity_a * loading / 1.25) if ln.id == line else ln
        for ln in net.lines
    )
    return dataclasses.replace(net, lines=lines), f1.head_breaker, tie, line


@pytest.mark.parametrize("lead_s", [120.0, 0.0])
def test_planned_transfer_is_dispatched_before_it_operates_and_reverted_after(
    small: Twin, make_harness: MakeHarness, lead_s: float
) -> None:
    net, breaker, tie, line = _transfer_case(small)
    h = make_harness(net, config=LoopConfig(order_lead_s=lead_s), defaults=False)
    t0 = h.clock.now()
    start, end = t0 + timedelta(minutes=5), t0 + timedelta(minutes=25)
    h.loop.ingest_switching_order("T-1/open", breaker, False, start, end, now=t0)
    h.loop.ingest_switching_order("T-1/tie", tie, True, start, end, now=t0)
    assert h.run(1).violations == ()
    while h.clock.now() < start:
        h.run(1)
    h.fleet.set_switches({breaker: False, tie: True})  # the crew operates at start
    at_switching = h.ac_violations()
    if lead_s == 0.0:  # not known early enough: the overload shows until the loop acts
        assert f"thermal:{line}" in {v.key for v in at_switching}
        h.run(2)  # the next step dispatches; its controls are in force 5 s later
    else:
        assert at_switching == ()
    assert h.ac_violations() == ()
    thermal = [e for e in h.loop.queue.open_controls() if e.request.constraint == f"thermal:{line}"]
    assert thermal
    assert all(e.received_at is not None for e in thermal)
    assert all(line in e.request.reason for e in thermal)
    while h.clock.now() < end:
        h.run(1)
    assert h.ac_violations() == ()
    h.fleet.set_switches({breaker: True, tie: False})
    h.run(int(h.loop.config.hold_s / 30) + 3)
    assert h.loop.state.switch_changes == 2
    assert {s.id: s.closed for s in h.loop.state.net.switches}[breaker] is True
    assert h.loop.queue.open_controls() == []
    assert h.ac_violations() == ()
    actions = [e.action for e in h.loop.audit.entries]
    for a in ("order_received", "order_applied", "order_reverted", "revert"):
        assert a in actions
    assert actions.index("order_applied") < actions.index("dispatch")


def test_loop_refuses_an_unknown_switch_and_keeps_its_schedule(make_harness: MakeHarness) -> None:
    h = make_harness(defaults=False)
    now = h.clock.now()
    with pytest.raises(ValidationError, match="NO_SUCH_SWITCH"):
        h.loop.ingest_switching_order("o1", "NO_SUCH_SWITCH", False, now, None, now=now)
    assert h.loop.orders.orders == {}
    assert h.loop.audit.actions("order_rejected")
    sw = h.loop.state.net.switches[0].id
    h.loop.ingest_switching_order("o1", sw, False, now + timedelta(hours=1), None, now=now)
    h.loop.ingest_switching_order("o1", sw, True, now + timedelta(hours=1), None, now=now)
    assert h.loop.audit.actions("order_replaced")
    assert h.loop.cancel_switching_order("o1", now)
    assert not h.loop.cancel_switching_order("o1", now)
    assert h.loop.audit.actions("order_cancelled")


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_orders_arrive_from_the_bus(make_harness: MakeHarness, make_bus: MakeBus) -> None:
    """On the in-process bus and on a real NATS JetStream server; a bad one is refused."""
    h = make_harness(defaults=False)
    bus = await make_bus()
    runner = ControlLoopRunner(bus, h.loop, h.clock)
    await runner.start()
    sw = h.loop.state.net.switches[0].id
    start = h.clock.now() + timedelta(minutes=5)
    body = order_payload(SwitchingOrder("bus-1", sw, False, start, start + timedelta(hours=1)))
    await bus.publish(sub.switching_orders("sub1"), body)
    await bus.publish(sub.switching_orders("sub1"), {**body, "order_id": "bus-2", "switch_id": "X"})
    for _ in range(500):
        if "bus-1" in h.loop.orders.orders and h.loop.audit.actions("order_rejected"):
            break
        await asyncio.sleep(0.01)
    assert h.loop.orders.orders["bus-1"].switch_id == sw
    assert "bus-2" not in h.loop.orders.orders
    assert "'X'" in h.loop.audit.actions("order_rejected")[0].why
    await runner.stop()
