"""DeviceCapability (clause 9.4.2): the entry point a client discovers the function sets from."""

from __future__ import annotations

from pydantic_xml import attr, element

from openderms.protocols.ieee2030_5.schema.base import Link, ListLink, Resource, UInt32


class FunctionSetAssignmentsBase(Resource):
    """The links FunctionSetAssignments and DeviceCapability share (the ones CSIP uses)."""

    der_program_list_link: ListLink | None = element(tag="DERProgramListLink", default=None)
    time_link: Link | None = element(tag="TimeLink", default=None)


class DeviceCapability(FunctionSetAssignmentsBase, tag="DeviceCapability"):
    poll_rate: UInt32 | None = attr(name="pollRate", default=None)
    end_device_list_link: ListLink | None = element(tag="EndDeviceListLink", default=None)
    mirror_usage_point_list_link: ListLink | None = element(
        tag="MirrorUsagePointListLink", default=None
    )
    self_device_link: Link | None = element(tag="SelfDeviceLink", default=None)
