"""DERProgram, DERControl, DefaultDERControl and DERCurve documents."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from openderms.protocols.ieee2030_5.domain import DerControl, DerCurveRecord, DerProgram
from openderms.protocols.ieee2030_5.mapper import links
from openderms.protocols.ieee2030_5.schema.base import Link, ListLink
from openderms.protocols.ieee2030_5.schema.derp import (
    ActivePower,
    DateTimeInterval,
    DefaultDERControl,
    DERControl,
    DERControlBase,
    DERControlList,
    DERCurve,
    DERCurveList,
    DERProgram,
    DERProgramList,
    EventStatus,
)

#: the Int16 range of ActivePower.value
_INT16_MAX = 0x7FFF


def active_power(w: float) -> ActivePower:
    """``w`` watts as ActivePower (``value`` x 10^``multiplier``), exact when it can be with a
    value that fits Int16, the smallest such multiplier from 0 up, then fractions (1500 W ->
    1500 x 10^0; 50 kW -> 5000 x 10^1; 1500.5 W -> 15005 x 10^-1); else rounded with the
    smallest multiplier whose value fits."""
    fitting: list[ActivePower] = []
    for multiplier in (*range(10), -1, -2, -3):
        scaled = w / 10**multiplier
        value = round(scaled)
        if abs(value) > _INT16_MAX:
            continue
        found = ActivePower(multiplier=multiplier, value=value)
        if abs(value * 10.0**multiplier - w) <= 1e-9 * max(1.0, abs(w)):
            return found
        fitting.append(found)
    if not fitting:
        raise ValueError(f"{w} W is beyond ActivePower's range")
    return min(fitting, key=lambda p: p.multiplier)


def watts(power: ActivePower) -> float:
    """ActivePower in W."""
    return float(power.value * 10.0**power.multiplier)


def csipaus_limits(
    *,
    export_w: float | None = None,
    import_w: float | None = None,
    generation_w: float | None = None,
    load_w: float | None = None,
    **controls: object,
) -> DERControlBase:
    """Internal control API: a DERControlBase with the CSIP-AUS limits in W (magnitudes:
    export and import at the connection point, the DER's generation and load), plus any
    other DERControlBase field given by name (``op_mod_energize=True``)."""

    def of(w: float | None) -> ActivePower | None:
        return active_power(w) if w is not None else None

    return DERControlBase.model_validate(
        {
            **controls,
            "op_mod_exp_lim_w": of(export_w),
            "op_mod_imp_lim_w": of(import_w),
            "op_mod_gen_lim_w": of(generation_w),
            "op_mod_load_lim_w": of(load_w),
        }
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
    href: str, items: Sequence[DerProgram], total: int, poll_rate_s: int, subscribable: int = 0
) -> DERProgramList:
    return DERProgramList(
        href=href,
        subscribable=subscribable,
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
