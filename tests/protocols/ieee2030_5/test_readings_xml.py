"""The fast parser of telemetry bodies (``serving.readings_xml``) gives exactly what the full
pydantic-xml parser gives, or steps aside (None) so that the full parser decides."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError as PydanticValidationError
from pydantic_xml.errors import ParsingError

from openderms.protocols.ieee2030_5.schema.derp import DateTimeInterval
from openderms.protocols.ieee2030_5.schema.metering import (
    MirrorMeterReading,
    MirrorMeterReadingList,
    PostedMirrorMeterReadingList,
    Reading,
)
from openderms.protocols.ieee2030_5.serving.readings_xml import parse_reading_list

NS = 'xmlns="urn:ieee:std:2030.5:ns"'


def full(body: bytes) -> PostedMirrorMeterReadingList | None:
    try:
        return PostedMirrorMeterReadingList.from_xml(body)
    except (ParsingError, PydanticValidationError, ValueError, SyntaxError):
        return None


def fleet_body(values: list[tuple[str, int | None, str | None]], start_s: int) -> bytes:
    """A body as ``DerAgent.post_telemetry`` renders it (pydantic-xml)."""
    period = DateTimeInterval(duration=30, start=start_s)
    items = [
        MirrorMeterReading(
            mrid=mrid, reading=Reading(value=value, quality_flags=flags, time_period=period)
        )
        for mrid, value, flags in values
    ]
    doc = MirrorMeterReadingList(all=len(items), results=len(items), items=items)
    out = doc.to_xml(skip_empty=True, exclude_none=True)
    assert isinstance(out, bytes)
    return out


mrids = st.text("0123456789ABCDEFabcdef", min_size=32, max_size=32)
values = st.one_of(st.none(), st.integers(-(2**47), 2**47))
flags = st.one_of(st.none(), st.sampled_from(["00", "0001", "FF"]))


@given(st.lists(st.tuples(mrids, values, flags), max_size=4), st.integers(0, 2**40))
def test_the_fast_parser_reads_what_the_fleet_posts_as_the_full_parser_does(
    items: list[tuple[str, int | None, str | None]], start_s: int
) -> None:
    body = fleet_body(items, start_s)
    fast = parse_reading_list(body)
    assert fast is not None
    assert fast == full(body)


@pytest.mark.parametrize(
    "reading",
    [
        "<value>12</value>",
        "<value>-7</value><localID>01</localID>",  # an element the fast path does not know
        "<value> 12 </value>",  # padded
        "<value>140737488355329</value>",  # beyond Int48
        "<value>1e3</value>",
        '<value xml:lang="en">12</value>',  # an attribute
        "<!-- note --><value>12</value>",  # a comment
        "<timePeriod><start>5</start><duration>30</duration></timePeriod><value>1</value>",
        "<timePeriod><duration>-1</duration><start>5</start></timePeriod><value>1</value>",
        "<value>1</value><value>2</value>",  # repeated
    ],
)
def test_the_fast_parser_agrees_or_steps_aside(reading: str) -> None:
    """Each body is read identically by both parsers, or the fast one answers None."""
    body = (
        f'<MirrorMeterReadingList {NS} all="1" results="1"><MirrorMeterReading>'
        f"<mRID>{'A' * 32}</mRID><Reading>{reading}</Reading></MirrorMeterReading>"
        "</MirrorMeterReadingList>"
    ).encode()
    fast = parse_reading_list(body)
    assert fast is None or fast == full(body)


@pytest.mark.parametrize(
    "body",
    [
        f"<MirrorMeterReading {NS}><mRID>{'A' * 32}</mRID></MirrorMeterReading>",
        f'<MirrorMeterReadingList {NS} href="/x"></MirrorMeterReadingList>',
        (
            f"<MirrorMeterReadingList {NS}><MirrorMeterReading><mRID>{'A' * 31}</mRID>"
            "</MirrorMeterReading></MirrorMeterReadingList>"
        ),
        (
            f"<MirrorMeterReadingList {NS}><MirrorMeterReading><mRID>{'A' * 32}</mRID>"
            "<ReadingType><uom>38</uom></ReadingType></MirrorMeterReading>"
            "</MirrorMeterReadingList>"
        ),
        "<MirrorMeterReadingList><MirrorMeterReading/></MirrorMeterReadingList>",
        b"not xml at all".decode(),
    ],
)
def test_other_shapes_go_to_the_full_parser(body: str) -> None:
    assert parse_reading_list(body.encode()) is None


def test_a_prefixed_namespace_is_read_as_the_full_parser_does() -> None:
    body = (
        b'<sep:MirrorMeterReadingList xmlns:sep="urn:ieee:std:2030.5:ns"><sep:MirrorMeterReading>'
        b"<sep:mRID>" + b"C" * 32 + b"</sep:mRID><sep:Reading><sep:value>5</sep:value>"
        b"</sep:Reading></sep:MirrorMeterReading></sep:MirrorMeterReadingList>"
    )
    fast = parse_reading_list(body)
    assert fast is None or fast == full(body)


def test_a_description_and_no_list_counts_are_read_as_the_full_parser_does() -> None:
    body = (
        f"<MirrorMeterReadingList {NS}><MirrorMeterReading><mRID>{'b' * 32}</mRID>"
        "<description>W at the inverter</description><Reading><qualityFlags>0001"
        "</qualityFlags><value>42</value></Reading></MirrorMeterReading>"
        "</MirrorMeterReadingList>"
    ).encode()
    fast = parse_reading_list(body)
    assert fast is not None
    assert fast == full(body)
    assert fast.items[0].description == "W at the inverter"
    assert fast.items[0].reading is not None
    assert fast.items[0].reading.value == 42
