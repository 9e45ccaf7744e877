"""A planned switching order in the live run: published on ``switching_orders.<substation>``
with the documented payload, and carried out by the plant's field crew at its start and end,
each operation reported on ``switch_states.<substation>`` as SCADA would."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest

from openderms.bus import InProcessBus, Message
from openderms.bus import subjects as sub
from openderms.errors import ValidationError
from openderms.services.live.plant import Plant
from openderms.services.live.stack import LiveStack
from openderms.services.live.switching import LiveSwitching
from openderms.sim.twin import Twin, build_twin


@pytest.fixture(scope="module")
def small() -> Twin:
    return build_twin("small")


def test_an_order_is_published_then_carried_out_at_start_and_end(small: Twin) -> None:
    breaker = small.feeders[0].head_breaker
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    end = start + timedelta(hours=1)

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[bool]]:
        bus = InProcessBus()
        plant = Plant(small.network, {}, bus, "sub1")
        orders: list[dict[str, Any]] = []
        reports: list[dict[str, Any]] = []

        async def on_order(m: Message) -> None:
            orders.append(m.json())

        async def on_state(m: Message) -> None:
            reports.append(m.json())

        await bus.subscribe(sub.switching_orders("sub1"), on_order)
        await plant.start()
        await bus.subscribe(sub.switch_states("sub1"), on_state)
        options = SimpleNamespace(substation_id="sub1")
        stack = cast(LiveStack, SimpleNamespace(bus=bus, plant=plant, options=options))
        grid = LiveSwitching(stack)
        await grid.order_switching("o1", breaker, False, start, end)
        with pytest.raises(ValidationError) as refused:
            await grid.order_switching("o2", breaker, False, start, start - timedelta(1))
        assert [i.field for i in refused.value.issues] == ["end"]
        await asyncio.sleep(0.05)
        closed = [plant.switches[breaker]]
        assert await plant.run_orders(start - timedelta(seconds=1)) == []
        closed.append(plant.switches[breaker])
        assert await plant.run_orders(start) == [breaker]
        closed.append(plant.switches[breaker])
        assert await plant.run_orders(end) == [breaker]
        closed.append(plant.switches[breaker])
        await asyncio.sleep(0.05)
        await plant.stop()
        await bus.close()
        return orders, reports, closed

    orders, reports, closed = asyncio.run(scenario())
    assert orders == [
        {
            "order_id": "o1",
            "switch_id": breaker,
            "closed": False,
            "start": start.isoformat(),
            "end": end.isoformat(),
        }
    ]
    assert closed == [True, True, False, True]
    assert reports == [{"states": {breaker: "open"}}, {"states": {breaker: "closed"}}]
