"""The live grid as the REST API's ``GridSwitching``: switch states as the plant last
reported them, and the operator's switch commands published on the bus as SCADA reports."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
