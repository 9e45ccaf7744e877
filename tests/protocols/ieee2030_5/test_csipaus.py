"""CSIP-AUS extensions: the ConnectionPoint of an EndDevice (Annex E, "Connection Point
Registration Extension") and the dynamic operating envelope limits of DERControlBase
(csipaus:opModExpLimW, opModImpLimW, opModGenLimW, opModLoadLimW). Documents carrying them
are checked against sep.xsd as CSIP-AUS's csipaus-core.xsd extends it."""

from __future__ import annotations

from openderms.protocols.ieee2030_5.mapper.derp import csipaus_limits, watts
from openderms.protocols.ieee2030_5.schema.csipaus import ConnectionPoint
from openderms.protocols.ieee2030_5.schema.derp import (
    DefaultDERControl,
    DERControlBase,
    DERControlList,
)
from openderms.protocols.ieee2030_5.schema.edev import EndDevice
from openderms.protocols.ieee2030_5.schema.error import Error
from tests.protocols.ieee2030_5 import provision
from tests.protocols.ieee2030_5.conftest import Running, Snapshot

SEP = {"content-type": "application/sep+xml"}
NMI = "41020000002"  # 4102000000 and its checksum digit 2
NMI_2 = "41020000026"


def _cp(identifier: str, tag: str = "connectionPointId") -> bytes:
    return (
        f'<ConnectionPoint xmlns="https://csipaus.org/ns"><{tag}>{identifier}</{tag}>'
        "</ConnectionPoint>"
    ).encode()


def test_basic_the_end_device_links_its_connection_point(running: Running) -> None:
    """CSIP-AUS Annex E: the EndDevice "SHALL contain a Link to an instance of
    ConnectionPoint" (csipaus:ConnectionPointLink)."""
    device = provision.end_device(running, "device1")
    with running.client("device1") as c:
        edev = EndDevice.from_xml(c.get(f"/edev/{device.id}").content)
        assert edev.connection_point_link is not None
        assert edev.connection_point_link.href == f"/edev/{device.id}/cp"
        assert c.get(edev.connection_point_link.href).status_code == 404  # none given yet


def test_basic_a_client_puts_and_updates_its_connection_point(running: Running) -> None:
    """CSIP-AUS Annex E: "Where this extension is used, the server shall support updates to
    ConnectionPoint identifier through a PUT request" (cactus S-OPT-03, S-ALL-53). The
    first PUT answers 201, an update 204, both with the Location; a CSIP-AUS 1.1 ``id``
    element is read as the identifier too."""
    device = provision.end_device(running, "device1")
    href = f"/edev/{device.id}/cp"
    with running.client("device1") as c:
        first = c.put(href, content=_cp(NMI), headers=SEP)
        assert (first.status_code, first.headers["location"]) == (201, href)
        got = ConnectionPoint.from_xml(c.get(href).content)
        assert (got.connection_point_id, got.href) == (NMI, href)
        again = c.put(href, content=_cp(NMI_2, tag="id"), headers=SEP)
        assert (again.status_code, again.headers["location"]) == (204, href)
        assert ConnectionPoint.from_xml(c.get(href).content).connection_point_id == NMI_2


def test_err_an_invalid_connection_point_id_is_400_reason_1_without_change(
    running: Running, snapshot: Snapshot
) -> None:
    """CSIP-AUS Annex E: "Where the server determines that the supplied ConnectionPoint id is
    invalid, the server shall return a HTTP 400 response with reasonCode = 1 (invalid
    request value)" (cactus S-OPT-02: ``NOTAVALIDID``). An NMI is 10 characters (digits,
    letters but I and O) and optionally its checksum digit, which must match."""
    device = provision.end_device(running, "device1")
    href = f"/edev/{device.id}/cp"
    with running.client("device1") as c:
        assert c.put(href, content=_cp(NMI), headers=SEP).status_code == 201
        before = snapshot()
        for wrong in ("NOTAVALIDID", "41020000003", "410200000", "4102000000I"):
            r = c.put(href, content=_cp(wrong), headers=SEP)
            assert r.status_code == 400, wrong
            assert Error.from_xml(r.content).reason_code == 1
        assert snapshot() == before
        assert ConnectionPoint.from_xml(c.get(href).content).connection_point_id == NMI


def test_agg_another_clients_connection_point_is_not_found(
    running: Running, snapshot: Snapshot
) -> None:
    """Authorisation as for the EndDevice itself: another client's ConnectionPoint answers
    404 to reads and writes, and nothing changes."""
    provision.end_device(running, "device1")
    theirs = provision.end_device(running, "device2")
    before = snapshot()
    with running.client("device1") as c:
        assert c.put(f"/edev/{theirs.id}/cp", content=_cp(NMI), headers=SEP).status_code == 404
        assert c.get(f"/edev/{theirs.id}/cp").status_code == 404
    assert snapshot() == before


def test_core_csipaus_limits_are_served_in_controls_and_defaults(running: Running) -> None:
    """CSIP-AUS DERControlBase extension: opModExpLimW / opModImpLimW (the connection point's
    export and import), opModGenLimW / opModLoadLimW (the DER's generation and load), each an
    ActivePower, set through the internal API in W and served in the csipaus namespace, in
    DERControls and in the DefaultDERControl (cactus S-ALL-11..14, 19..22)."""
    device = provision.end_device(running, "device1")
    program = provision.program(running, [device], "feeder-1")
    limits = csipaus_limits(export_w=1500, import_w=2000.5, generation_w=50_000, load_w=0)
    mrid = provision.control(running, program.id, controls=limits)
    default = DefaultDERControl(
        mrid="C" * 24 + "00003039",
        der_control_base=csipaus_limits(export_w=3000, op_mod_energize=True),
    )
    running.services.programs.set_default_control(program.id, default)
    with running.client("device1") as c:
        r = c.get(f"/derp/{program.id}/derc")
        assert b'xmlns:csipaus="https://csipaus.org/ns"' in r.content
        listed = DERControlList.from_xml(r.content)
        got = DefaultDERControl.from_xml(c.get(f"/derp/{program.id}/dderc").content)
    base = next(x for x in listed.items if x.mrid == mrid).der_control_base
    served = {
        name: watts(p) if p is not None else None
        for name, p in (
            ("exp", base.op_mod_exp_lim_w),
            ("imp", base.op_mod_imp_lim_w),
            ("gen", base.op_mod_gen_lim_w),
            ("load", base.op_mod_load_lim_w),
        )
    }
    assert served == {"exp": 1500, "imp": 2000.5, "gen": 50_000, "load": 0}
    assert got.der_control_base.op_mod_exp_lim_w is not None
    assert watts(got.der_control_base.op_mod_exp_lim_w) == 3000
    assert got.der_control_base.op_mod_energize is True
    assert limits == DERControlBase.model_validate(limits.model_dump(mode="json"))
