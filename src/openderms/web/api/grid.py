"""``/api/v1/grid``: the operator switches in a live grid (``openderms run``).

``POST /grid/switches/{switch_id}`` with ``{"closed": false}`` reports the switch's new state
on the bus (``switch_states.<substation>``), as SCADA does when a switch operates: the plant
and the control loop re-derive the topology from it. Operator token only. An unknown switch
is a 404 problem naming it; a body without a boolean ``closed`` a 422 naming the field. With
no live grid attached (``openderms serve`` alone) the endpoints answer 503.

``POST /grid/switching-orders`` with ``{"switch_id", "closed", "start", "end"}`` plans an
order instead (``switching_orders.<substation>``), answered 202 with the order published.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import uuid4

from fastapi import APIRouter, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool
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

    async def order_switching(
        self, order_id: str, switch_id: str, closed: bool, start: datetime, end: datetime | None
    ) -> dict[str, Any]:
        """Check a planned order (``ValidationError`` naming each bad field) and publish
        it on ``switching_orders.<substation>``; returns the message published."""
        ...


class SwitchCommand(BaseModel):
    """The state a switch is put in."""

    model_config = ConfigDict(extra="forbid")
    closed: StrictBool


class SwitchingOrderIn(BaseModel):
    """A planned switching order: ``switch_id`` open or closed from ``start`` until ``end``
    (null: for good). The same ``order_id`` again replaces the order; a window already over
    cancels it. Times ISO 8601 with a UTC offset."""

    model_config = ConfigDict(extra="forbid")
    order_id: str | None = Field(None, min_length=1, max_length=80)
    switch_id: str = Field(min_length=1, max_length=80)
    closed: StrictBool
    start: AwareDatetime
    end: AwareDatetime | None = None


class SwitchingOrderOut(BaseModel):
    order_id: str
    switch_id: str
    closed: bool
    start: datetime
    end: datetime | None
    substation_id: str


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


@router.post(
    "/grid/switching-orders",
    response_model=SwitchingOrderOut,
    status_code=202,
    summary="Plan a switching order in the live grid",
)
async def order_switching(
    body: SwitchingOrderIn, actor: ApiActor, request: Request
) -> SwitchingOrderOut:
    """Publish a planned order on ``switching_orders.<substation>`` (operator only): the
    control loop prepares for it, the switch operates at ``start`` and returns at ``end``."""
    _operator(actor)
    grid = live_grid(request)
    if body.switch_id not in grid.switch_states():
        raise UnknownElementError("switch", body.switch_id)
    order_id = body.order_id or f"order-{uuid4().hex[:12]}"
    sent = await grid.order_switching(order_id, body.switch_id, body.closed, body.start, body.end)
    return SwitchingOrderOut(substation_id=grid.substation_id, **sent)
