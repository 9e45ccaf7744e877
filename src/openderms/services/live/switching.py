"""The live grid as the REST API's ``GridSwitching``: switch states as the plant last
reported them, the operator's switch commands published on the bus as SCADA reports, and
planned switching orders published on ``switching_orders.<substation>`` (the control loop
prepares for them, the plant's field crew carries them out)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from openderms.bus import subjects as sub
from openderms.services.control_loop.orders import check_order, order_payload

if TYPE_CHECKING:
    from openderms.services.live.stack import LiveStack


class LiveSwitching:
    def __init__(self, stack: LiveStack) -> None:
        self._stack = stack

    @property
    def substation_id(self) -> str:
        return self._stack.options.substation_id

    def switch_states(self) -> dict[str, bool]:
        return self._stack.plant.switches

    async def report_switch(self, switch_id: str, closed: bool) -> None:
        await self._stack.switch(switch_id, closed)

    async def order_switching(
        self, order_id: str, switch_id: str, closed: bool, start: datetime, end: datetime | None
    ) -> dict[str, Any]:
        """Check the order (``ValidationError`` naming each bad field) and publish it."""
        order = check_order(
            order_id, switch_id, closed, start, end, switch_ids=self.switch_states()
        )
        payload = order_payload(order)
        await self._stack.bus.publish(sub.switching_orders(self.substation_id), payload)
        return payload
