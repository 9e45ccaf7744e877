"""FunctionSetAssignments (clause 9.5): which programs (and time) apply to an EndDevice."""

from __future__ import annotations

from pydantic_xml import attr, element

from openderms.protocols.ieee2030_5.schema.base import (
    MRID,
    String32,
    SubscribableList,
    UInt8,
    UInt16,
    UInt32,
)
from openderms.protocols.ieee2030_5.schema.dcap import FunctionSetAssignmentsBase


class FunctionSetAssignments(FunctionSetAssignmentsBase, tag="FunctionSetAssignments"):
    mrid: MRID = element(tag="mRID")
    description: String32 | None = element(tag="description", default=None)
    version: UInt16 | None = element(tag="version", default=None)
    subscribable: UInt8 | None = attr(default=None)


class FunctionSetAssignmentsList(SubscribableList, tag="FunctionSetAssignmentsList"):
    poll_rate: UInt32 | None = attr(name="pollRate", default=None)
    items: list[FunctionSetAssignments] = element(tag="FunctionSetAssignments", default=[])
