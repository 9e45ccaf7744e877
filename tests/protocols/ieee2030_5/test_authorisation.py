"""AGG procedures: an aggregator's certificate sees the EndDevices mapped to it and never
another's; a device sees only its own. Refusals change nothing."""

from __future__ import annotations

import pytest

from openderms.protocols.ieee2030_5.schema.derp import DERProgramList
from openderms.protocols.ieee2030_5.schema.edev import EndDevice, EndDeviceList
from openderms.protocols.ieee2030_5.security.identity import ClientIdentity
from openderms.protocols.ieee2030_5.services import build_services
from tests.protocols.ieee2030_5 import provision
from tests.protocols.ieee2030_5.conftest import Running, Snapshot

SEP = {"content-type": "application/sep+xml"}


def _fleet(running: Running) -> tuple[int, int, int]:
    """aggA manages device1, aggB manages device2; each aggregator has a program."""
    a = provision.end_device(running, "device1", aggregator="aggA")
    b = provision.end_device(running, "device2", aggregator="aggB")
    pa = provision.program(running, [a], "prog-A")
    provision.program(running, [b], "prog-B")
    provision.control(running, pa.id)
    return a.id, b.id, pa.id


def test_agg_an_aggregator_lists_only_its_own_end_devices(running: Running) -> None:
    """CSIP aggregator: the EndDeviceList an aggregator reads holds the EndDevices it
    manages, and no other client's."""
    a, _, _ = _fleet(running)
    with running.client("aggA") as c:
        listed = EndDeviceList.from_xml(c.get("/edev", params={"l": 50}).content)
    assert [e.href for e in listed.items] == [f"/edev/{a}"]
    assert listed.all == 1


@pytest.mark.parametrize(
    "path",
    ["/edev/{b}", "/edev/{b}/rg", "/edev/{b}/fsa", "/edev/{b}/der", "/edev/{b}/der/1/dercap"],
)
def test_agg_an_aggregator_cannot_read_another_aggregators_device(
    running: Running, snapshot: Snapshot, path: str
) -> None:
    a, b, _ = _fleet(running)
    before = snapshot()
    with running.client("aggA") as c:
        assert c.get(path.format(b=a)).status_code in {200, 404}  # its own: readable
        assert c.get(path.format(b=b)).status_code == 404
    assert snapshot() == before


def test_agg_an_aggregator_cannot_register_another_aggregators_device(
    running: Running, snapshot: Snapshot
) -> None:
    _fleet(running)
    before = snapshot()
    theirs = running.pki.identities["device2"]
    body = EndDevice(sfdi=theirs.sfdi, lfdi=theirs.lfdi, changed_time=0).to_xml(
        skip_empty=True, exclude_none=True
    )
    with running.client("aggA") as c:
        r = c.post("/edev", content=body, headers=SEP)
    assert r.status_code == 403
    assert snapshot() == before


def test_agg_an_aggregator_cannot_write_another_aggregators_der(
    running: Running, snapshot: Snapshot
) -> None:
    _, b, _ = _fleet(running)
    before = snapshot()
    body = (
        b'<DERStatus xmlns="urn:ieee:std:2030.5:ns"><readingTime>1700000000</readingTime>'
        b"</DERStatus>"
    )
    with running.client("aggA") as c:
        r = c.put(f"/edev/{b}/der/1/ders", content=body, headers=SEP)
    assert r.status_code == 404
    assert snapshot() == before


def test_agg_programs_and_controls_follow_the_end_devices(running: Running) -> None:
    """A client sees the DERPrograms of the FSAs of its EndDevices, and only their controls."""
    _, _, pa = _fleet(running)
    with running.client("aggA") as c:
        programs = DERProgramList.from_xml(c.get("/derp", params={"l": 10}).content)
        assert [p.description for p in programs.items] == ["prog-A"]
        assert c.get(f"/derp/{pa}/derc").status_code == 200
    with running.client("aggB") as c:
        assert c.get(f"/derp/{pa}").status_code == 404
        assert c.get(f"/derp/{pa}/derc").status_code == 404
        assert c.get(f"/derp/{pa}/actderc").status_code == 404


def test_agg_a_device_sees_only_its_own_end_device(running: Running) -> None:
    """A device certificate (not an aggregator) sees exactly one EndDevice: its own."""
    a, b, _ = _fleet(running)
    with running.client("device1") as c:
        listed = EndDeviceList.from_xml(c.get("/edev", params={"l": 50}).content)
        assert [e.href for e in listed.items] == [f"/edev/{a}"]
        assert c.get(f"/edev/{b}").status_code == 404
    with running.client("stranger") as c:
        assert EndDeviceList.from_xml(c.get("/edev", params={"l": 50}).content).all == 0


def test_agg_an_unmanaged_device_lfdi_cannot_be_taken_over(running: Running) -> None:
    """A device that registered itself stays its own: no aggregator can claim it."""
    me = running.pki.identities["device1"]
    running.services.end_devices.ensure(me)
    provision.end_device(running, "aggA", aggregator="aggA")
    body = EndDevice(sfdi=me.sfdi, lfdi=me.lfdi, changed_time=0).to_xml(
        skip_empty=True, exclude_none=True
    )
    with running.client("aggA") as c:
        assert c.post("/edev", content=body, headers=SEP).status_code == 403
    other = ClientIdentity.from_lfdi("f" * 40)
    assert running.services.end_devices.ensure(other).aggregator_lfdi is None


def test_core_access_revoked_at_run_time_refuses_every_request_without_change(
    running: Running, snapshot: Snapshot
) -> None:
    """IEEE 2030.5 security: authentication (the TLS certificate) is followed by the server's
    authorisation of what that client may access; the utility must be able to withdraw a
    client's access without waiting for its certificate to expire. A certificate whose
    access is revoked at run time is refused (403) on every request, reads and writes, on a
    connection already open too, and nothing changes;
    other clients keep their access; granting it again restores it (cactus S-ALL-05 step 5
    "DISALLOW ACCESS")."""
    device = provision.end_device(running, "device1")
    provision.end_device(running, "device2")
    me = running.pki.identities["device1"]
    body = EndDevice(sfdi=me.sfdi, lfdi=me.lfdi, changed_time=0).to_xml(
        skip_empty=True, exclude_none=True
    )
    with running.client("device1") as c:
        assert c.get("/edev").status_code == 200
        running.services.end_devices.set_access(me, granted=False)
        before = snapshot()
        assert c.get("/edev").status_code == 403
        assert c.get(f"/edev/{device.id}").status_code == 403
        assert c.get("/dcap").status_code == 403
        assert c.post("/edev", content=body, headers=SEP).status_code == 403
        assert c.post("/mup", content=b"<MirrorUsagePoint/>", headers=SEP).status_code == 403
        assert snapshot() == before
        with running.client("device2") as other:
            assert other.get("/edev").status_code == 200
        running.services.end_devices.set_access(me, granted=True)
        listed = EndDeviceList.from_xml(c.get("/edev").content)
    assert [e.href for e in listed.items] == [f"/edev/{device.id}"]


def test_core_revoked_access_is_kept_in_the_store(running: Running) -> None:
    """The access list is persisted: services built again on the same store (a restart)
    still refuse the revoked certificate, including one never listed before."""
    unknown = running.pki.identities["device2"]  # never registered: listed on revocation
    running.services.end_devices.set_access(unknown, granted=False)
    again = build_services(running.store.engine, pen=12345)
    try:
        assert again.end_devices.access_granted(unknown) is False
        assert again.end_devices.access_granted(running.pki.identities["device1"]) is True
    finally:
        again.close()
