"""CORE procedures: discovery from DeviceCapability down to the controls of a program, over
real TLS with the device's certificate, every document valid against sep.xsd."""

from __future__ import annotations

from openderms.protocols.ieee2030_5.schema.dcap import DeviceCapability
from openderms.protocols.ieee2030_5.schema.derp import (
    DefaultDERControl,
    DERControlBase,
    DERControlList,
    DERProgramList,
)
from openderms.protocols.ieee2030_5.schema.edev import EndDeviceList, Registration
from openderms.protocols.ieee2030_5.schema.fsa import FunctionSetAssignmentsList
from openderms.protocols.ieee2030_5.schema.time import Time
from tests.protocols.ieee2030_5 import provision
from tests.protocols.ieee2030_5.conftest import Running
from tests.protocols.ieee2030_5.sep_schema import assert_valid


def test_core_discovery_walk_dcap_edev_fsa_derp_derc(running: Running) -> None:
    """IEEE 2030.5 discovery: a client starts at DeviceCapability and follows links: its
    EndDevice, the FunctionSetAssignments, their DERProgramList, each program's
    DERControlList (CSIP: the client finds its DER programs through FSAs)."""
    device = provision.end_device(running, "device1")
    program = provision.program(running, [device], "feeder-12")
    mrid = provision.control(running, program.id)
    with running.client("device1") as c:
        dcap = DeviceCapability.from_xml(c.get("/dcap").content)
        assert dcap.end_device_list_link is not None
        assert dcap.time_link is not None
        edevs = EndDeviceList.from_xml(c.get(dcap.end_device_list_link.href).content)
        assert [e.sfdi for e in edevs.items] == [running.pki.identities["device1"].sfdi]
        edev = edevs.items[0]
        assert edev.lfdi == running.pki.identities["device1"].lfdi.upper()
        assert edev.function_set_assignments_list_link is not None
        fsas = FunctionSetAssignmentsList.from_xml(
            c.get(edev.function_set_assignments_list_link.href, params={"l": 10}).content
        )
        assert [f.description for f in fsas.items] == ["feeder-12"]
        link = fsas.items[0].der_program_list_link
        assert link is not None
        programs = DERProgramList.from_xml(c.get(link.href, params={"l": 10}).content)
        assert [p.mrid for p in programs.items] == [program.mrid]
        derc_link = programs.items[0].der_control_list_link
        assert derc_link is not None
        controls = DERControlList.from_xml(c.get(derc_link.href, params={"l": 10}).content)
        assert [x.mrid for x in controls.items] == [mrid]
        assert controls.items[0].der_control_base.op_mod_max_lim_w == 5000
        assert controls.items[0].event_status.current_status == 1  # active: started 60 s ago
        active_link = programs.items[0].active_der_control_list_link
        assert active_link is not None
        active = DERControlList.from_xml(c.get(active_link.href, params={"l": 10}).content)
        assert [x.mrid for x in active.items] == [mrid]
        tm = Time.from_xml(c.get(dcap.time_link.href).content)
        assert tm.quality == 4
        assert edev.registration_link is not None
        rg = Registration.from_xml(c.get(edev.registration_link.href).content)
        assert rg.pin == provision.PIN


def test_core_mrids_end_with_the_server_pen(running: Running) -> None:
    """CSIP: the least significant 32 bits of every mRID the server creates hold its IANA
    Private Enterprise Number."""
    device = provision.end_device(running, "device1")
    program = provision.program(running, [device], "feeder-1")
    mrid = provision.control(running, program.id)
    assert program.mrid.endswith(f"{12345:08X}")
    assert mrid.endswith(f"{12345:08X}")


def test_core_default_control_is_linked_and_served(running: Running) -> None:
    """IEEE 2030.5 DERProgram.DefaultDERControlLink: the default control, what DER do when no
    event is active. Every program serves one: before an operator sets one, the standing
    default (energised, no limit, a stable mRID with the server's PEN); then the operator's."""
    device = provision.end_device(running, "device1")
    program = provision.program(running, [device], "feeder-1")
    with running.client("device1") as c:
        programs = DERProgramList.from_xml(c.get("/derp", params={"l": 5}).content)
        link = programs.items[0].default_der_control_link
        assert link is not None
        assert link.href == f"/derp/{program.id}/dderc"
        standing = c.get(link.href)
        assert standing.status_code == 200
        assert_valid(running.schema, standing.content)
        first = DefaultDERControl.from_xml(standing.content)
        assert first.der_control_base == DERControlBase(op_mod_energize=True)
        assert first.mrid.endswith(f"{12345:08X}")
        assert first.subscribable == 1
        assert DefaultDERControl.from_xml(c.get(link.href).content).mrid == first.mrid
        default = DefaultDERControl(
            mrid="A" * 24 + "00003039",
            der_control_base=DERControlBase(op_mod_energize=True, op_mod_max_lim_w=10000),
            set_grad_w=100,
        )
        running.services.programs.set_default_control(program.id, default)
        got = DefaultDERControl.from_xml(c.get(link.href).content)
        assert got.der_control_base == default.der_control_base
        assert got.set_grad_w == 100
        assert got.href == link.href


def test_core_poll_rate_is_settable_at_run_time(running: Running) -> None:
    """IEEE 2030.5: pollRate tells a client how often to poll a resource; the server may
    change it."""
    provision.end_device(running, "device1")
    with running.client("device1") as c:
        assert DeviceCapability.from_xml(c.get("/dcap").content).poll_rate == 900
        running.services.server.set_poll_rate(60)
        assert DeviceCapability.from_xml(c.get("/dcap").content).poll_rate == 60
        assert EndDeviceList.from_xml(c.get("/edev").content).poll_rate == 60


def test_core_head_answers_like_get_without_a_body(running: Running) -> None:
    provision.end_device(running, "device1")
    with running.client("device1") as c:
        got, head = c.get("/dcap"), c.head("/dcap")
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == "application/sep+xml"
