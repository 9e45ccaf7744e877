"""The contract of ``openderms.bus.port.MessageBus``, run against ``InProcessBus`` and a real
NATS JetStream server alike (the ``make_bus`` fixture)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest

from openderms.bus import BusError, MessageBus, NoResponderError, subjects
from openderms.bus.port import (
    DEAD_CONSUMER_HEADER,
    DEAD_DELIVERIES_HEADER,
    DEAD_REASON_HEADER,
    ORIGINAL_MSG_ID_HEADER,
    Message,
)
from openderms.errors import ConflictError, ValidationError
from tests.bus.conftest import Collector, MakeBus, settle

pytestmark = pytest.mark.anyio


async def test_publish_subscribe_json_with_aware_datetime(bus: MessageBus) -> None:
    got = Collector()
    await bus.subscribe(subjects.family_pattern(subjects.MEASUREMENTS), got)
    at = datetime(2026, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=-7)))
    subject = subjects.measurements("sub1")
    ack = await bus.publish(subject, {"at": at, "p_kw": 1250.5}, headers={"Source": "scada"})
    await got.wait_for(1)
    (message,) = got.messages
    assert message.subject == subject
    assert message.msg_id == ack.msg_id
    assert message.headers == {"Source": "scada"}
    assert message.delivery == 1
    assert message.sequence == ack.sequence > 0
    assert message.json() == {"at": "2026-06-01T19:00:00+00:00", "p_kw": 1250.5}
    assert datetime.fromisoformat(message.json()["at"]) == at


async def test_bytes_pass_through(bus: MessageBus) -> None:
    got = Collector()
    await bus.subscribe("responses.>", got)
    await bus.publish(subjects.responses("sub1"), b"\x00raw")
    await got.wait_for(1)
    assert got.messages[0].data == b"\x00raw"


async def test_wildcards_select_by_token(bus: MessageBus) -> None:
    one_sub = Collector()
    one_der = Collector()
    family = Collector()
    other = Collector()
    await bus.subscribe(subjects.family_pattern(subjects.TELEMETRY, "s1"), one_sub)
    await bus.subscribe("telemetry.*.d2", one_der)
    await bus.subscribe("telemetry.>", family)
    await bus.subscribe("measurements.>", other)
    for sub, der in (("s1", "d1"), ("s2", "d2"), ("s1", "d2")):
        await bus.publish(subjects.telemetry(sub, der), {"der": der})
    await family.wait_for(3)
    await one_sub.wait_for(2)
    await one_der.wait_for(2)
    await settle(0.2)
    assert [m.subject for m in one_sub.messages] == ["telemetry.s1.d1", "telemetry.s1.d2"]
    assert [m.subject for m in one_der.messages] == ["telemetry.s2.d2", "telemetry.s1.d2"]
    assert len(family.messages) == 3
    assert other.messages == []


async def test_deliver_all_replays_retained_new_does_not(bus: MessageBus) -> None:
    for i in range(3):
        await bus.publish(subjects.violations("s1"), {"i": i})
    everything = Collector()
    only_new = Collector()
    await bus.subscribe("violations.s1", everything, deliver="all")
    await bus.subscribe("violations.s1", only_new, deliver="new")
    await bus.publish(subjects.violations("s1"), {"i": 3})
    await everything.wait_for(4)
    await only_new.wait_for(1)
    await settle(0.2)
    assert everything.payloads() == [{"i": i} for i in range(4)]
    assert only_new.payloads() == [{"i": 3}]


async def test_durable_consumer_catches_up_after_restart(bus: MessageBus) -> None:
    subject = subjects.control_plans("s1")
    first = Collector()
    sub = await bus.subscribe("control_plans.>", first, durable="dispatch", deliver="all")
    for i in range(3):
        await bus.publish(subject, {"plan": i})
    await first.wait_for(3)
    await sub.stop()
    for i in range(3, 5):
        await bus.publish(subject, {"plan": i})
    second = Collector()
    await bus.subscribe("control_plans.>", second, durable="dispatch", deliver="all")
    await second.wait_for(2)
    await settle(0.2)
    assert first.payloads() == [{"plan": i} for i in range(3)]
    assert second.payloads() == [{"plan": 3}, {"plan": 4}]


async def test_a_durable_runs_once_and_keeps_its_pattern(bus: MessageBus) -> None:
    await bus.subscribe("responses.s1", Collector(), durable="tracker")
    with pytest.raises(ConflictError, match="already running"):
        await bus.subscribe("responses.s1", Collector(), durable="tracker")
    with pytest.raises(ConflictError, match=r"responses\.s2"):
        await bus.subscribe("responses.s2", Collector(), durable="tracker")


async def test_failed_handler_is_retried_then_succeeds(bus: MessageBus) -> None:
    got = Collector(fail=lambda m: m.delivery < 3)
    dead = Collector()
    await bus.subscribe("dead_letter.>", dead)
    await bus.subscribe("switch_states.>", got)
    await bus.publish(subjects.switch_states("s1"), {"sw1": "open"})
    await got.wait_for(1)
    await settle(0.3)
    assert [m.delivery for m in got.calls] == [1, 2, 3]
    assert got.payloads() == [{"sw1": "open"}]
    assert dead.messages == []


async def test_handler_failing_every_time_ends_in_dead_letter(bus: MessageBus) -> None:
    poisoned = subjects.switch_states("s1")
    got = Collector(fail=lambda m: m.subject == poisoned)
    dead = Collector()
    await bus.subscribe("dead_letter.>", dead)
    await bus.subscribe("switch_states.>", got, durable="topology")
    ack = await bus.publish(poisoned, {"sw1": "open"}, headers={"Source": "scada"})
    await bus.publish(subjects.switch_states("s2"), {"sw9": "closed"})
    await dead.wait_for(1)
    await got.wait_for(1)
    await settle(0.3)
    assert [m.delivery for m in got.calls if m.subject == poisoned] == [1, 2, 3]
    assert got.payloads() == [{"sw9": "closed"}]
    (letter,) = dead.messages
    assert letter.subject == subjects.dead_letter(poisoned) == "dead_letter.switch_states.s1"
    assert letter.json() == {"sw1": "open"}
    assert letter.headers[DEAD_CONSUMER_HEADER] == "topology"
    assert letter.headers[DEAD_DELIVERIES_HEADER] == "3"
    assert "RuntimeError: handler refuses" in letter.headers[DEAD_REASON_HEADER]
    assert letter.headers[ORIGINAL_MSG_ID_HEADER] == ack.msg_id
    assert letter.headers["Source"] == "scada"


async def test_same_msg_id_published_twice_is_handled_once(bus: MessageBus) -> None:
    got = Collector()
    await bus.subscribe("registry.der.*", got)
    subject = subjects.registry_der("approved")
    first = await bus.publish(subject, {"der_id": "d1"}, msg_id="evt-1")
    again = await bus.publish(subject, {"der_id": "d1"}, msg_id="evt-1")
    await bus.publish(subject, {"der_id": "d2"}, msg_id="evt-2")
    await got.wait_for(2)
    await settle(0.2)
    assert (first.duplicate, again.duplicate) == (False, True)
    assert again.sequence == first.sequence
    assert got.payloads() == [{"der_id": "d1"}, {"der_id": "d2"}]


async def test_consumer_dedupes_beyond_the_publish_window(make_bus: MakeBus) -> None:
    bus = await make_bus(duplicate_window_s=0.2)
    got = Collector()
    await bus.subscribe("registry.>", got)
    subject = subjects.registry_der("provisioned")
    first = await bus.publish(subject, {"n": 1}, msg_id="evt-9")
    await got.wait_for(1)
    await asyncio.sleep(0.4)
    second = await bus.publish(subject, {"n": 2}, msg_id="evt-9")
    await bus.publish(subject, {"n": 3}, msg_id="evt-10")
    await got.wait_for(2)
    await settle(0.2)
    assert not second.duplicate
    assert second.sequence > first.sequence
    assert got.payloads() == [{"n": 1}, {"n": 3}]


async def test_messages_of_one_subject_arrive_in_publish_order(bus: MessageBus) -> None:
    got = Collector()
    await bus.subscribe("telemetry.s1.*", got)
    n = 200
    for i in range(n):
        await bus.publish(subjects.telemetry("s1", "d1"), {"i": i})
    await got.wait_for(n)
    assert got.payloads() == [{"i": i} for i in range(n)]


async def test_stop_lets_the_running_handler_finish(bus: MessageBus) -> None:
    started = asyncio.Event()
    finished: list[str] = []

    async def slow(message: Message) -> None:
        started.set()
        await asyncio.sleep(0.2)
        finished.append(message.msg_id)

    sub = await bus.subscribe("violations.>", slow, durable="slow")
    ack = await bus.publish(subjects.violations("s1"), {"v": 1})
    await started.wait()
    await sub.stop()
    assert finished == [ack.msg_id]
    again = Collector()
    await bus.subscribe("violations.>", again, durable="slow")
    await settle(0.3)
    assert again.messages == []


async def test_request_reply(bus: MessageBus) -> None:
    async def echo(message: Message) -> dict[str, object]:
        return {"echo": message.json(), "header": message.headers.get("Who")}

    subject = subjects.rpc("grid", "echo")
    with pytest.raises(NoResponderError):
        await bus.request(subject, {"x": 1}, timeout_s=1)
    server = await bus.serve(subject, echo)
    reply = await bus.request(subject, {"x": 1}, headers={"Who": "test"})
    assert reply.json() == {"echo": {"x": 1}, "header": "test"}
    await server.stop()
    with pytest.raises(NoResponderError):
        await bus.request(subject, {"x": 1}, timeout_s=1)


async def test_a_failing_responder_is_an_error_for_the_requester(bus: MessageBus) -> None:
    async def broken(message: Message) -> bytes:
        raise ValueError("no such feeder")

    subject = subjects.rpc("grid", "broken")
    await bus.serve(subject, broken)
    with pytest.raises(BusError, match="no such feeder"):
        await bus.request(subject, b"", timeout_s=2)


async def test_bad_subjects_and_payloads_are_refused_naming_the_value(bus: MessageBus) -> None:
    with pytest.raises(ValidationError, match="'nope'"):
        await bus.publish("nope.s1", b"")
    with pytest.raises(ValidationError, match="rpc"):
        await bus.publish(subjects.rpc("a", "b"), b"")
    with pytest.raises(ValidationError, match="literal family"):
        await bus.subscribe("*.s1", Collector())
    with pytest.raises(ValidationError, match="timezone-aware"):
        await bus.publish(subjects.measurements("s1"), {"at": datetime(2026, 1, 1)})
    with pytest.raises(ValidationError, match="Nats-Msg-Id"):
        await bus.publish(subjects.measurements("s1"), b"", headers={"Nats-Msg-Id": "x"})
    with pytest.raises(ValidationError, match="bad name"):
        await bus.subscribe("measurements.>", Collector(), durable="bad name")


async def test_closed_bus_refuses_work(make_bus: MakeBus) -> None:
    bus = await make_bus()
    await bus.close()
    with pytest.raises(BusError, match="closed"):
        await bus.publish(subjects.measurements("s1"), {"at": datetime.now(UTC)})
    await bus.close()
