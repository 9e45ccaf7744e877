"""A fast path for the body of the commonest request: a MirrorMeterReadingList of
MirrorMeterReadings that each carry an mRID, maybe a description, and one Reading (qualityFlags,
timePeriod, value). pydantic-xml's ``from_xml`` takes ~140 us for such a body; here the
standard library's expat reads it and pydantic validates the plain values (~40 us), into the
same model. Not lxml: lxml lets go of the GIL while it parses, and the event loop then waits
for the telemetry writer's thread to hand it back (up to the 5 ms switch interval).

Anything else (another element or attribute, text that is not exactly a number or hex digits,
a DTD, comments or CDATA, another root) is not this shape: ``parse_reading_list`` answers
None and the caller uses the full parser, which gives the same document or the error. So the
fast path changes no answer, only its cost (``test_readings_xml.py`` checks both agree).
"""

from __future__ import annotations

import re
from typing import Any
from xml.etree import ElementTree

from pydantic import ValidationError as PydanticValidationError

from openderms.protocols.ieee2030_5.schema.metering import PostedMirrorMeterReadingList

NS = "{urn:ieee:std:2030.5:ns}"
_LIST = NS + "MirrorMeterReadingList"
_MMR = NS + "MirrorMeterReading"
_INT = re.compile(r"-?[0-9]{1,20}")
_UINT = re.compile(r"[0-9]{1,20}")
_HEX = re.compile(r"[0-9A-Fa-f]{1,64}")
_TEXT = re.compile(r"[^<>&\s](?:[^<>&]{0,30}[^<>&\s])?")
Values = dict[str, Any]
Element = ElementTree.Element


def _blank(text: str | None) -> bool:
    return text is None or not text.strip()


def _leaf(element: Element, pattern: re.Pattern[str]) -> str | None:
    """The text of a leaf element with no attributes, when it matches ``pattern`` whole."""
    if element.attrib or len(element) or not _blank(element.tail):
        return None
    text = element.text
    return text if text is not None and pattern.fullmatch(text) else None


def _children(element: Element, order: tuple[str, ...]) -> list[tuple[str, Element]] | None:
    """(name, child) of an attribute-less element whose children are a subsequence of
    ``order`` (None: anything else: attributes, text, comments, unknown or repeated tags)."""
    if element.attrib or not _blank(element.text) or not _blank(element.tail):
        return None
    out, at = [], 0
    for child in element:
        tag = child.tag
        if not tag.startswith(NS):
            return None
        name = tag[len(NS) :]
        while at < len(order) and order[at] != name:
            at += 1
        if at == len(order):
            return None
        at += 1
        out.append((name, child))
    return out


def _period(element: Element) -> Values | None:
    parts = _children(element, ("duration", "start"))
    if parts is None or len(parts) != 2:
        return None
    duration, start = _leaf(parts[0][1], _UINT), _leaf(parts[1][1], _INT)
    if duration is None or start is None:
        return None
    return {"duration": duration, "start": start}


def _reading(element: Element) -> Values | None:
    parts = _children(element, ("qualityFlags", "timePeriod", "value"))
    if parts is None:
        return None
    out: Values = {}
    for name, child in parts:
        if name == "timePeriod":
            period = _period(child)
            if period is None:
                return None
            out["time_period"] = period
        else:
            text = _leaf(child, _HEX if name == "qualityFlags" else _INT)
            if text is None:
                return None
            out["quality_flags" if name == "qualityFlags" else "value"] = text
    return out


def _mmr(element: Element) -> Values | None:
    parts = _children(element, ("mRID", "description", "Reading"))
    if parts is None or not parts or parts[0][0] != "mRID":
        return None
    out: Values = {}
    for name, child in parts:
        if name == "Reading":
            reading = _reading(child)
            if reading is None:
                return None
            out["reading"] = reading
        else:
            text = _leaf(child, _HEX if name == "mRID" else _TEXT)
            if text is None:
                return None
            out["mrid" if name == "mRID" else "description"] = text
    return out


def parse_reading_list(body: bytes) -> PostedMirrorMeterReadingList | None:
    """``body`` as a PostedMirrorMeterReadingList when it has the simple shape (see the
    module), else None (not that shape, or not valid: the full parser decides)."""
    if b"<!" in body:  # DTD, comment, CDATA: for the full parser
        return None
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    if root.tag != _LIST or not _blank(root.text):
        return None
    values: Values = {}
    for key, value in root.attrib.items():
        if key not in {"all", "results"} or not _UINT.fullmatch(value):
            return None
        values[key] = value
    items = []
    for child in root:
        if child.tag != _MMR:
            return None
        item = _mmr(child)
        if item is None:
            return None
        items.append(item)
    values["items"] = items
    try:
        return PostedMirrorMeterReadingList.model_validate(values)
    except PydanticValidationError:
        return None
