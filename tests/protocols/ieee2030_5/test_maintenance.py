"""MAINT procedures: what clients see when the utility changes groups, programs and controls
at run time (CSIP 5.3 "Maintenance": 5.3.2 Maintenance of Groups (Function Set
Assignments), 5.3.3 Maintenance of Controls (DERControl, DERControlList), 5.3.4 Maintenance
of Programs (DERProgram, DERProgramList)). The SunSpec test numbers of these procedures were
not found; the tests are named after the family only."""

from __future__ import annotations

from openderms.protocols.ieee2030_5.schema.derp import (
    DefaultDERControl,
    DERControlBase,
    DERControlList,
    DERProgram,
    DERProgramList,
)
from openderms.protocols.ieee2030_5.schema.fsa import FunctionSetAssignmentsList
from tests.protocols.ieee2030_5 import provision
from tests.protocols.ieee2030_5.conftest import Running


def test_maint_an_fsa_taken_back_takes_its_programs_and_controls_away(running: Running) -> None:
    """CSIP 5.3.2 Maintenance of Groups: the utility moves a DER out of a group by taking the
    FunctionSetAssignments back; the device then no longer lists the FSA, the group's
    programs, nor reads their controls (404, as for anything it may not see)."""
    device = provision.end_device(running, "device1")
    program = provision.program(running, [device], "feeder-1")
    mrid = provision.control(running, program.id)
    fsa = running.services.fsas.ensure("feeder-1")
    with running.client("device1") as c:
        listed = DERControlList.from_xml(c.get(f"/derp/{program.id}/derc").content)
        assert [x.mrid for x in listed.items] == [mrid]
        running.services.fsas.unassign(device.id, fsa.id)
        fsas = FunctionSetAssignmentsList.from_xml(c.get(f"/edev/{device.id}/fsa").content)
        programs = DERProgramList.from_xml(c.get("/derp").content)
        assert c.get(f"/derp/{program.id}/derc").status_code == 404
    assert fsas.all == 0
    assert programs.all == 0


def test_maint_a_program_added_to_a_group_is_listed_at_once(running: Running) -> None:
    """CSIP 5.3.4 Maintenance of Programs: a program the utility adds to a group the device
    is in is in the device's DERProgramList (and the FSA's) on its next poll."""
    device = provision.end_device(running, "device1")
    first = provision.program(running, [device], "feeder-1")
    fsa = running.services.fsas.ensure("feeder-1")
    with running.client("device1") as c:
        assert DERProgramList.from_xml(c.get("/derp").content).all == 1
        second = running.services.programs.ensure_program(fsa.id, "feeder-1-peak", 3)
        listed = DERProgramList.from_xml(c.get("/derp", params={"l": 10}).content)
        in_fsa_href = f"/edev/{device.id}/fsa/{fsa.id}/derp"
        in_fsa = DERProgramList.from_xml(c.get(in_fsa_href, params={"l": 10}).content)
    assert [p.mrid for p in listed.items] == [first.mrid, second.mrid]  # primacy order
    assert in_fsa.all == 2


def test_maint_a_new_default_control_bumps_the_programs_version(running: Running) -> None:
    """CSIP 5.3.4 Maintenance of Programs / IEEE 2030.5 IdentifiedObject.version ("Contains
    the version number of the object"): setting a program's DefaultDERControl changes the
    program, so its version goes up and the new default is served."""
    device = provision.end_device(running, "device1")
    program = provision.program(running, [device], "feeder-1")
    with running.client("device1") as c:
        before = DERProgram.from_xml(c.get(f"/derp/{program.id}").content)
        default = DefaultDERControl(
            mrid="D" * 24 + "00003039",
            der_control_base=DERControlBase(op_mod_energize=True, op_mod_max_lim_w=5000),
        )
        running.services.programs.set_default_control(program.id, default)
        after = DERProgram.from_xml(c.get(f"/derp/{program.id}").content)
        served = DefaultDERControl.from_xml(c.get(f"/derp/{program.id}/dderc").content)
    assert (after.version or 0) == (before.version or 0) + 1
    assert served.mrid == default.mrid


def test_maint_a_cancelled_control_is_listed_cancelled(running: Running) -> None:
    """CSIP 5.3.3 Maintenance of Controls / IEEE 2030.5 clause 12.1.3: a control the utility
    cancels stays in the DERControlList with EventStatus currentStatus 2 (Cancelled), so
    that clients that saw it learn it is off."""
    device = provision.end_device(running, "device1")
    program = provision.program(running, [device], "feeder-1")
    mrid = provision.control(running, program.id)
    running.services.programs.cancel_control(mrid)
    with running.client("device1") as c:
        listed = DERControlList.from_xml(c.get(f"/derp/{program.id}/derc").content)
    (control,) = [x for x in listed.items if x.mrid == mrid]
    assert control.event_status is not None
    assert control.event_status.current_status == 2
