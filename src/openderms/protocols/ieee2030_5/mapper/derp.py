"""DERProgram, DERControl, DefaultDERControl and DERCurve documents."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from openderms.protocols.ieee2030_5.domain import DerControl, DerCurveRecord, DerProgram
from openderms.protocols.ieee2030_5.mapper import links
from openderms.protocols.ieee2030_5.schema.base import Link, ListLink
from openderms.protocols.ieee2030_5.schema.derp import (
    DateTimeInterval,
    DefaultDERControl,
    DERControl,
    DERControlList,
    DERCurve,
    DERCurveList,
    DERProgram,
    DERProgramList,
    EventStatus,
)

#: responseRequired (clause 10.4): bit 0 "message received" and bit 1 "specific response"
#: (event started, completed, opted out, rejected...), posted to ``replyTo``
RESPONSE_REQUIRED = "03"


def program(item: DerProgram) -> DERProgram:
    return DERProgram(
        href=links.program(item.id),
        subscribable=0,
        mrid=item.mrid,
        description=item.description or None,
        version=item.version,
        active_der_control_list_link=ListLink(href=links.active_controls(item.id)),
        # every program serves one: the operator's or the standing default
        default_der_control_link=Link(href=links.default_control(item.id)),
        der_control_list_link=ListLink(href=links.controls(item.id)),
        der_curve_list_link=ListLink(href=links.curves(item.id)),
        primacy=item.primacy,
    )


def program_list(
    href: str, items: Sequence[DerProgram], total: int, poll_rate_s: int
) -> DERProgramList:
    return DERProgramList(
        href=href,
        subscribable=0,
        all=total,
        results=len(items),
        poll_rate=poll_rate_s,
        items=[program(p) for p in items],
    )


def control(item: DerControl, now: datetime) -> DERControl:
    return DERControl(
        href=links.control(item.program_id, item.id),
        reply_to=links.responses(),
        response_required=RESPONSE_REQUIRED,
        subscribable=0,
        mrid=item.mrid,
        description=item.description or None,
        version=0,
        creation_time=links.epoch_s(item.creation_time),
        event_status=EventStatus(
            current_status=item.current_status(now),
            date_time=links.epoch_s(item.status_time),
            potentially_superseded=False,
        ),
        interval=DateTimeInterval(duration=item.duration_s, start=links.epoch_s(item.start)),
        randomize_duration=item.randomize_duration_s,
        randomize_start=item.randomize_start_s,
        der_control_base=item.controls,
    )


def control_list(
    href: str, items: Sequence[DerControl], total: int, now: datetime
) -> DERControlList:
    return DERControlList(
        href=href,
        subscribable=1,  # clients may subscribe to it (Subscription/Notification)
        all=total,
        results=len(items),
        items=[control(c, now) for c in items],
    )


def default_control(program_id: int, item: DefaultDERControl) -> DefaultDERControl:
    # subscribable: clients may subscribe to it (Subscription/Notification)
    return item.model_copy(update={"href": links.default_control(program_id), "subscribable": 1})


def curve(item: DerCurveRecord) -> DERCurve:
    return item.curve.model_copy(update={"href": links.curve(item.program_id, item.id)})


def curve_list(program_id: int, items: Sequence[DerCurveRecord], total: int) -> DERCurveList:
    return DERCurveList(
        href=links.curves(program_id),
        all=total,
        results=len(items),
        items=[curve(c) for c in items],
    )
