"""The control queue: supersession, retries with back-off, expiry, delivery rates (first try
and eventual), on the in-memory link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from openderms.services.control_loop import (
    ControlQueue,
    ControlRequest,
    ControlStatus,
    FakeClock,
    InMemoryDelivery,
    LinkBehaviour,
    RetryPolicy,
)
from tests.services.control_loop.conftest import MakeHarness

T0 = datetime(2026, 7, 15, 19, 0, tzinfo=UTC)


def _request(cid: str, der: str, p_max_kw: float, *, priority: int = 0) -> ControlRequest:
    return ControlRequest(
        cid, der, T0, T0 + timedelta(minutes=15), priority=priority, p_max_kw=p_max_kw,
        rated_kw=10.0,
    )  # fmt: skip


def _queue(
    behaviour: LinkBehaviour | None = None,
) -> tuple[FakeClock, InMemoryDelivery, ControlQueue]:
    clock = FakeClock(T0)
    link = InMemoryDelivery(clock, behaviour)
    return clock, link, ControlQueue(link, RetryPolicy(max_attempts=3, backoff_s=10.0))


def test_newer_control_supersedes_the_older_for_the_same_der() -> None:
    clock, link, q = _queue()
    a = q.submit(_request("a", "der1", 5.0), "agg", T0)
    q.deliver(T0)
    q.on_responses(link.drain(), T0)
    assert a.status is ControlStatus.STARTED
    b = q.submit(_request("b", "der1", 3.0), "agg", clock.advance(10))
    assert a.status is ControlStatus.SUPERSEDED
    assert q.open_control("der1") is b
    q.deliver(clock.now())
    q.on_responses(link.drain(), clock.now())
    in_force = link.in_force("der1", clock.now())
    assert in_force is not None
    assert in_force.control_id == "b"
    q.cancel("der1", clock.advance(10), "revert")
    assert link.in_force("der1", clock.now()) is None  # the superseded one does not come back
    assert q.rates()["all"].deliverable == 2  # both were received


def test_superseded_before_sending_is_not_counted() -> None:
    _, _, q = _queue()
    q.submit(_request("a", "der1", 5.0), "agg", T0)
    q.submit(_request("b", "der1", 4.0), "agg", T0)
    q.deliver(T0)
    assert q.sends == 1
    assert q.controls["a"].status is ControlStatus.SUPERSEDED
    assert "all" not in q.rates() or q.rates()["all"].deliverable == 0


def test_priority_first_and_back_off_then_failure() -> None:
    clock, link, q = _queue()
    link.set_offline(["der2"])
    q.submit(_request("low", "der1", 5.0), "agg", T0)
    q.submit(_request("high", "der2", 5.0, priority=5), "agg", T0)
    q.deliver(T0)
    q.on_responses(link.drain(), T0)
    high = q.controls["high"]
    assert high.attempts == 1
    assert high.status is ControlStatus.QUEUED
    assert high.next_try == T0 + timedelta(seconds=10)
    q.deliver(clock.advance(5))
    assert high.attempts == 1  # still backing off
    q.deliver(clock.advance(5))
    assert high.attempts == 2
    assert high.next_try == clock.now() + timedelta(seconds=20)
    q.deliver(clock.advance(20))
    assert high.status is ControlStatus.FAILED
    assert high.attempts == 3
    q.on_responses(link.drain(), clock.now())
    rates = q.rates("der")
    assert rates["der2"].eventual == 0
    assert rates["der1"].first_try == 1
    assert q.rates("aggregator")["agg"].deliverable == 2


def test_not_received_in_time_is_sent_again_and_counts_as_eventual() -> None:
    clock, link, q = _queue(LinkBehaviour(drop_probability=1.0))
    entry = q.submit(_request("a", "der1", 5.0), "agg", T0)
    q.deliver(T0)
    link.behaviour = LinkBehaviour()
    q.deliver(clock.advance(31))  # no receipt within ack_timeout_s: queued again
    assert entry.status is ControlStatus.QUEUED
    q.deliver(clock.advance(10))
    q.on_responses(link.drain(), clock.now())
    assert entry.attempts == 2
    assert entry.received_at is not None
    r = q.rates()["all"]
    assert (r.first_try, r.eventual, r.deliverable) == (0, 1, 1)


def test_a_control_never_received_expires() -> None:
    clock, link, q = _queue()
    link.set_offline(["der1"])
    q = ControlQueue(link, RetryPolicy(max_attempts=100, backoff_s=60.0))
    entry = q.submit(_request("a", "der1", 5.0), "agg", T0)
    for _ in range(20):
        q.deliver(clock.advance(60))
    assert entry.status is ControlStatus.EXPIRED


def test_retries_lift_eventual_delivery(make_harness: MakeHarness) -> None:
    h = make_harness(
        behaviour=LinkBehaviour(delay_s=5.0, loss_probability=0.3, drop_probability=0.1)
    )
    h.run(10)
    rates = h.loop.queue.rates()["all"]
    assert rates.deliverable >= 50
    assert rates.first_try_rate < 0.8
    assert rates.eventual_rate >= 0.97
    assert h.ac_violations() == ()
