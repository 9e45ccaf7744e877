"""MirrorUsagePoint and MirrorMeterReading documents."""

from __future__ import annotations

from collections.abc import Sequence

from openderms.protocols.ieee2030_5.domain import MirrorMeterReadingRecord, MirrorUsagePointRecord
from openderms.protocols.ieee2030_5.mapper import links
from openderms.protocols.ieee2030_5.schema.metering import (
    MirrorMeterReading,
    MirrorUsagePoint,
    MirrorUsagePointList,
    ReadingType,
)


def mmr(item: MirrorMeterReadingRecord) -> MirrorMeterReading:
    return MirrorMeterReading(
        href=None,
        mrid=item.mrid,
        description=item.description or None,
        last_update_time=links.epoch_s(item.changed_time),
        reading_type=ReadingType.model_validate(item.reading_type),
    )


def mup(
    item: MirrorUsagePointRecord, lfdi: str, readings: Sequence[MirrorMeterReadingRecord] = ()
) -> MirrorUsagePoint:
    return MirrorUsagePoint(
        href=links.mup(item.id),
        mrid=item.mrid,
        description=item.description or None,
        role_flags=item.role_flags,
        service_category_kind=item.service_category_kind,
        status=item.status,
        device_lfdi=lfdi.upper(),
        readings=[mmr(r).model_copy(update={"href": links.mmr(item.id, r.id)}) for r in readings],
        post_rate=item.post_rate_s,
    )


def mup_list(
    items: Sequence[tuple[MirrorUsagePointRecord, str]], total: int, poll_rate_s: int
) -> MirrorUsagePointList:
    return MirrorUsagePointList(
        href=links.MUP,
        all=total,
        results=len(items),
        poll_rate=poll_rate_s,
        items=[mup(m, lfdi) for m, lfdi in items],
    )
