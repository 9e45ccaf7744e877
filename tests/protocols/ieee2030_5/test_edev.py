"""BASIC and CORE procedures on EndDevice: in-band registration (POST, 201 + Location),
reading it back, Registration, and list paging (``s``, ``a``, ``l``; ``all`` / ``results``)."""

from __future__ import annotations

from openderms.protocols.ieee2030_5.schema.edev import EndDevice, EndDeviceList
from openderms.protocols.ieee2030_5.security.identity import ClientIdentity
from tests.protocols.ieee2030_5 import provision
from tests.protocols.ieee2030_5.conftest import Running, Snapshot

SEP = {"content-type": "application/sep+xml"}


def _end_device_xml(sfdi: int, lfdi: str | None = None, category: str = "0200") -> bytes:
    body = EndDevice(sfdi=sfdi, lfdi=lfdi, changed_time=1_700_000_000, device_category=category)
    xml = body.to_xml(skip_empty=True, exclude_none=True)
    assert isinstance(xml, bytes)
    return xml


def test_basic_a_device_registers_its_own_end_device(running: Running) -> None:
    """IEEE 2030.5 EndDevice: a client POSTs its EndDevice to the EndDeviceList; the server
    answers 201 Created with the new resource's URI in Location."""
    me = running.pki.identities["device1"]
    with running.client("device1") as c:
        r = c.post("/edev", content=_end_device_xml(me.sfdi), headers=SEP)
        assert r.status_code == 201
        location = r.headers["location"]
        got = EndDevice.from_xml(c.get(location).content)
        assert got.sfdi == me.sfdi
        assert got.lfdi == me.lfdi.upper()
        assert got.href == location
        assert got.device_category == "0200"
        listed = EndDeviceList.from_xml(c.get("/edev", params={"l": 10}).content)
        assert listed.all == 1


def test_basic_a_second_registration_of_the_same_lfdi_is_refused(
    running: Running, snapshot: Snapshot
) -> None:
    """IEEE 2030.5 Annex C.2 (Registration: Remote), step 1: "(Out of band) Service provider
    populates client device's EndDevice (containing short form device identifier [SFDI])";
    the client then finds its EndDevice, it does not create a second one. The server keeps
    one EndDevice per LFDI: a POST of an EndDevice whose LFDI is already registered (in
    band or out of band) is refused with 409 Conflict and changes nothing (cactus S-ALL-51
    "End Device Duplication", S-OPT-01 "Discovery Rejecting In-Band Registration"); the
    client finds its EndDevice in the EndDeviceList instead."""
    me = running.pki.identities["device1"]
    with running.client("device1") as c:
        first = c.post("/edev", content=_end_device_xml(me.sfdi), headers=SEP)
        assert first.status_code == 201
        before = snapshot()
        again = c.post("/edev", content=_end_device_xml(me.sfdi, me.lfdi.upper()), headers=SEP)
        assert again.status_code == 409
        assert snapshot() == before
        listed = EndDeviceList.from_xml(c.get("/edev", params={"l": 10}).content)
    assert listed.all == 1
    assert listed.items[0].href == first.headers["location"]


def test_basic_an_out_of_band_registered_device_cannot_register_again(
    running: Running, snapshot: Snapshot
) -> None:
    """IEEE 2030.5 Annex C.2 step 1, "(Out of band) Service provider populates client
    device's EndDevice": a device so registered (here through the internal API) is refused a
    second, in-band registration with 409 and no change (cactus S-OPT-01)."""
    provision.end_device(running, "device1")
    me = running.pki.identities["device1"]
    before = snapshot()
    with running.client("device1") as c:
        r = c.post("/edev", content=_end_device_xml(me.sfdi, me.lfdi), headers=SEP)
    assert r.status_code == 409
    assert snapshot() == before


def test_basic_an_aggregator_registers_the_devices_it_manages(running: Running) -> None:
    """CSIP aggregators: an aggregator's certificate registers and then sees the EndDevices
    of the DER it manages (each with its own LFDI and SFDI)."""
    provision.end_device(running, "aggA", aggregator="aggA")  # declares aggA an aggregator
    managed = [ClientIdentity.from_lfdi(f"{i:040x}") for i in range(1, 4)]
    with running.client("aggA") as c:
        for ident in managed:
            r = c.post("/edev", content=_end_device_xml(ident.sfdi, ident.lfdi), headers=SEP)
            assert r.status_code == 201
        listed = EndDeviceList.from_xml(c.get("/edev", params={"l": 10}).content)
    assert listed.all == 4  # its own and the three it manages
    assert {e.lfdi for e in listed.items} >= {i.lfdi.upper() for i in managed}


def test_core_list_paging_s_l_all_results(running: Running) -> None:
    """IEEE 2030.5 lists: ``s`` is the first index, ``l`` the most items, ``all`` counts every
    item and ``results`` those in the response; without ``l`` one item is returned."""
    provision.end_device(running, "aggA", aggregator="aggA")
    for i in range(1, 6):
        running.services.end_devices.ensure(
            ClientIdentity.from_lfdi(f"{i:040x}"), running.pki.identities["aggA"].lfdi
        )
    with running.client("aggA") as c:
        whole = EndDeviceList.from_xml(c.get("/edev", params={"l": 100}).content)
        first = EndDeviceList.from_xml(c.get("/edev").content)
        middle = EndDeviceList.from_xml(c.get("/edev", params={"s": 2, "l": 3}).content)
        past = EndDeviceList.from_xml(c.get("/edev", params={"s": 50, "l": 3}).content)
    assert (whole.all, whole.results) == (6, 6)
    assert (first.all, first.results) == (6, 1)
    assert (middle.all, middle.results) == (6, 3)
    assert [e.href for e in middle.items] == [e.href for e in whole.items[2:5]]
    assert (past.all, past.results) == (6, 0)


def test_core_paging_after_keeps_recent_changes(running: Running) -> None:
    """``a`` (after): only items changed at or after that time."""
    provision.end_device(running, "device1")
    with running.client("device1") as c:
        future = EndDeviceList.from_xml(c.get("/edev", params={"a": 4_000_000_000}).content)
        past = EndDeviceList.from_xml(c.get("/edev", params={"a": 1}).content)
    assert (future.all, future.results) == (0, 0)
    assert past.all == 1


def test_basic_registration_pin(running: Running) -> None:
    """CSIP registration: the EndDevice's Registration carries the PIN the installer set,
    for the client to check against its own."""
    device = provision.end_device(running, "device1")
    with running.client("device1") as c:
        assert c.get(f"/edev/{device.id}/rg").status_code == 200
    running.services.end_devices.ensure(running.pki.identities["device2"])
    with running.client("device2") as c:
        other = EndDeviceList.from_xml(c.get("/edev").content).items[0]
        assert other.href is not None
        assert c.get(other.href + "/rg").status_code == 404  # no PIN set


def test_basic_a_wrong_sfdi_is_refused_without_change(running: Running, snapshot: Snapshot) -> None:
    """A device may register only the SFDI of its own certificate: 400, nothing stored."""
    before = snapshot()
    with running.client("device1") as c:
        r = c.post("/edev", content=_end_device_xml(123456789012), headers=SEP)
    assert r.status_code == 400
    assert snapshot() == before


def test_basic_ensuring_again_keeps_the_pin(running: Running) -> None:
    """Re-mapping an EndDevice (for example to an aggregator) keeps its registration."""
    device = provision.end_device(running, "device1")
    agg = running.pki.identities["aggA"]
    again = running.services.end_devices.ensure(running.pki.identities["device1"], agg.lfdi)
    assert again.id == device.id
    assert again.pin == provision.PIN
    assert again.registered_at == device.registered_at
    assert again.aggregator_lfdi == agg.lfdi
