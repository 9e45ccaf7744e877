"""``/api/v1/grid``: the operator switches in a live grid (``openderms run``).

``POST /grid/switches/{switch_id}`` with ``{"closed": false}`` reports the switch's new state
on the bus (``switch_states.<substation>``), as SCADA does when a switch operates: the plant
and the control loop re-derive the topology from it. Operator token only. An unknown switch
is a 404 problem naming it; a body without a boolean ``closed`` a 422 naming the field. With
no live grid attached (``openderms serve`` alone) the endpoints answer 503.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, StrictBool
from starlette.exceptions import HTTPException

from openderms.errors import PermissionDeniedError, UnknownElementError
from openderms.registry.ports import Actor
from openderms.web.auth import ApiActor

router = APIRouter(tags=["grid"])


class GridSwitching(Protocol):
    """What a live grid offers the operator (``services.live.switching.LiveSwitching``)."""

    @property
    def substation_id(self) -> str: ...

    def switch_states(self) -> dict[str, bool]:
        """Every switch of the network and whether it is closed (as last reported)."""
        ...

    async def report_switch(self, switch_id: str, closed: bool) -> None:
        """Publish the switch's new state on the bus."""
        ...


class SwitchCommand(BaseModel):
    """The state a switch is put in."""

    model_config = ConfigDict(extra="forbid")
    closed: StrictBool


class SwitchStateOut(BaseModel):
    switch_id: str
    closed: bool
    substation_id: str
    reported_at: datetime


def live_grid(request: Request) -> GridSwitching:
    found: GridSwitching | None = getattr(request.app.state, "live_switching", None)
    if found is None:
        raise HTTPException(503, "no live grid is attached: start one with `openderms run`")
    return found


def _operator(actor: Actor) -> None:
    if actor.role != "operator":
        raise PermissionDeniedError(f"only an operator may operate switches, not {actor.role!r}")


@router.get("/grid/switches", response_model=list[SwitchStateOut], summary="Switch states")
def list_switches(actor: ApiActor, request: Request) -> list[SwitchStateOut]:
    """Every switch of the live grid and its state."""
    grid = live_grid(request)
    now = datetime.now(UTC)
    return [
        SwitchStateOut(switch_id=k, closed=v, substation_id=grid.substation_id, reported_at=now)
        for k, v in sorted(grid.switch_states().items())
    ]


@router.post(
    "/grid/switches/{switch_id}",
    response_model=SwitchStateOut,
    summary="Open or close a switch of the live grid",
)
async def operate_switch(
    switch_id: str,
    body: SwitchCommand,
    actor: ApiActor,
    request: Request,
) -> SwitchStateOut:
    """Report the switch's new state on the bus (operator only)."""
    _operator(actor)
    grid = live_grid(request)
    if switch_id not in grid.switch_states():
        raise UnknownElementError("switch", switch_id)
    await grid.report_switch(switch_id, body.closed)
    return SwitchStateOut(
        switch_id=switch_id,
        closed=body.closed,
        substation_id=grid.substation_id,
        reported_at=datetime.now(UTC),
    )
