"""Base types of sep.xsd: Resource, IdentifiedObject, List, Link, and the simple types."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, PlainSerializer
from pydantic_xml import BaseXmlModel, attr, element

NS = "urn:ieee:std:2030.5:ns"
MEDIA_TYPE = "application/sep+xml"


def _xml_bool(value: bool) -> str:
    return "true" if value else "false"


#: xs:boolean written as ``true`` / ``false``
XmlBool = Annotated[bool, PlainSerializer(_xml_bool, return_type=str)]
#: hexBinary of 128 bits (mRIDType): 32 hex digits
MRID = Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{32}$")]
#: hexBinary of 160 bits (lFDI): 40 hex digits
HexBinary160 = Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{40}$")]
#: hexBinary of at most 32 bits (DeviceCategoryType, DERControlType, alarm status)
HexBinary32 = Annotated[str, Field(pattern=r"^([0-9A-Fa-f]{2}){1,4}$")]
#: hexBinary of 8 bits (ConnectStatusType value, responseRequired)
HexBinary8 = Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{2}$")]
UInt8 = Annotated[int, Field(ge=0, le=0xFF)]
UInt16 = Annotated[int, Field(ge=0, le=0xFFFF)]
UInt32 = Annotated[int, Field(ge=0, le=0xFFFFFFFF)]
Int16 = Annotated[int, Field(ge=-0x8000, le=0x7FFF)]
Int32 = Annotated[int, Field(ge=-0x80000000, le=0x7FFFFFFF)]
#: seconds since 1970-01-01 UTC (TimeType, Int64)
TimeType = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
#: SFDIType: at most 12 decimal digits
SFDI = Annotated[int, Field(ge=0, le=999_999_999_999)]
#: hundredths of a percent, 0..100 % (PerCent)
PerCent = Annotated[int, Field(ge=0, le=10_000)]
#: hundredths of a percent, -100..100 % (SignedPerCent)
SignedPerCent = Annotated[int, Field(ge=-10_000, le=10_000)]
#: power of ten multiplier (PowerOfTenMultiplierType)
PowerOfTen = Annotated[int, Field(ge=-9, le=9)]
String32 = Annotated[str, Field(max_length=32)]
String192 = Annotated[str, Field(max_length=192)]


class SepModel(BaseXmlModel, nsmap={"": NS}, ns="", search_mode="ordered"):
    """Every 2030.5 element: default namespace, elements read in schema order (elements this
    model does not know, such as links to function sets not served or extensions, are
    skipped)."""


class Link(SepModel, tag="Link"):
    href: str = attr()


class ListLink(Link, tag="ListLink"):
    all: UInt32 | None = attr(default=None)


class Resource(SepModel):
    href: str | None = attr(default=None)


class PollRated(Resource):
    """A resource carrying the ``pollRate`` attribute (seconds between client polls)."""

    poll_rate: UInt32 | None = attr(name="pollRate", default=None)


class SubscribableResource(Resource):
    subscribable: UInt8 | None = attr(default=None)


class IdentifiedObject(Resource):
    mrid: MRID = element(tag="mRID")
    description: String32 | None = element(tag="description", default=None)
    version: UInt16 | None = element(tag="version", default=None)


class SubscribableIdentifiedObject(IdentifiedObject):
    subscribable: UInt8 | None = attr(default=None)


class SepList(Resource):
    """A page of a list: ``all`` items exist, ``results`` are in this page."""

    all: UInt32 = attr()
    results: UInt32 = attr()


class SubscribableList(SepList):
    subscribable: UInt8 | None = attr(default=None)
