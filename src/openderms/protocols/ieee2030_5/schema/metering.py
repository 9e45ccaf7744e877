"""Metering Mirror function set (clause 10.7 of IEEE 2030.5): MirrorUsagePoint,
MirrorMeterReading, MirrorReadingSet, Reading and ReadingType, in sep.xsd order."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from pydantic_xml import attr, element

from openderms.protocols.ieee2030_5.schema.base import (
    HexBinary160,
    IdentifiedObject,
    PowerOfTen,
    Resource,
    SepList,
    TimeType,
    UInt8,
    UInt32,
)
from openderms.protocols.ieee2030_5.schema.derp import DateTimeInterval

#: Int48 of sep.xsd
Int48 = Annotated[int, Field(ge=-140_737_488_355_328, le=140_737_488_355_328)]
#: hexBinary of 16 bits (RoleFlagsType, qualityFlags, localID)
HexBinary16 = Annotated[str, Field(pattern=r"^([0-9A-Fa-f]{2}){1,2}$")]


class ReadingType(Resource, tag="ReadingType"):
    """What a reading measures (the elements CSIP uses; others are skipped on input)."""

    accumulation_behaviour: UInt8 | None = element(tag="accumulationBehaviour", default=None)
    commodity: UInt8 | None = element(tag="commodity", default=None)
    data_qualifier: UInt8 | None = element(tag="dataQualifier", default=None)
    flow_direction: UInt8 | None = element(tag="flowDirection", default=None)
    interval_length: UInt32 | None = element(tag="intervalLength", default=None)
    kind: UInt8 | None = element(tag="kind", default=None)
    phase: UInt8 | None = element(tag="phase", default=None)
    power_of_ten_multiplier: PowerOfTen | None = element(tag="powerOfTenMultiplier", default=None)
    uom: UInt8 | None = element(tag="uom", default=None)


class Reading(Resource, tag="Reading"):
    subscribable: UInt8 | None = attr(default=None)
    quality_flags: HexBinary16 | None = element(tag="qualityFlags", default=None)
    time_period: DateTimeInterval | None = element(tag="timePeriod", default=None)
    value: Int48 | None = element(tag="value", default=None)
    local_id: HexBinary16 | None = element(tag="localID", default=None)


class MirrorReadingSet(IdentifiedObject, tag="MirrorReadingSet"):
    time_period: DateTimeInterval = element(tag="timePeriod")
    readings: list[Reading] = element(tag="Reading", default=[])


class MirrorMeterReading(IdentifiedObject, tag="MirrorMeterReading"):
    last_update_time: TimeType | None = element(tag="lastUpdateTime", default=None)
    reading_sets: list[MirrorReadingSet] = element(tag="MirrorReadingSet", default=[])
    next_update_time: TimeType | None = element(tag="nextUpdateTime", default=None)
    reading: Reading | None = element(tag="Reading", default=None)
    reading_type: ReadingType | None = element(tag="ReadingType", default=None)


class MirrorMeterReadingList(SepList, tag="MirrorMeterReadingList"):
    items: list[MirrorMeterReading] = element(tag="MirrorMeterReading", default=[])


class PostedMirrorMeterReadingList(Resource, tag="MirrorMeterReadingList"):
    """A MirrorMeterReadingList as clients POST it: ``all`` and ``results`` (a page's
    counts, meaningless in a POST) may be left out, as cactus-client does."""

    all: UInt32 | None = attr(default=None)
    results: UInt32 | None = attr(default=None)
    items: list[MirrorMeterReading] = element(tag="MirrorMeterReading", default=[])


class MirrorUsagePoint(IdentifiedObject, tag="MirrorUsagePoint"):
    role_flags: HexBinary16 = element(tag="roleFlags")
    service_category_kind: UInt8 = element(tag="serviceCategoryKind")
    status: UInt8 = element(tag="status")
    device_lfdi: HexBinary160 = element(tag="deviceLFDI")
    readings: list[MirrorMeterReading] = element(tag="MirrorMeterReading", default=[])
    post_rate: UInt32 | None = element(tag="postRate", default=None)


class MirrorUsagePointList(SepList, tag="MirrorUsagePointList"):
    poll_rate: UInt32 | None = attr(name="pollRate", default=None)
    items: list[MirrorUsagePoint] = element(tag="MirrorUsagePoint", default=[])
