"""BASIC procedures on the DER a client reports: it PUTs DERCapability, DERSettings,
DERStatus and DERAvailability under its EndDevice and reads them back."""

from __future__ import annotations

from openderms.protocols.ieee2030_5.schema.der import (
    DER,
    DERAvailability,
    DERCapability,
    DERList,
    DERSettings,
    DERStatus,
)
from openderms.protocols.ieee2030_5.schema.derp import ActivePower
from tests.protocols.ieee2030_5 import provision
from tests.protocols.ieee2030_5.conftest import Running

SEP = {"content-type": "application/sep+xml"}


def _xml(doc: DERCapability | DERSettings | DERStatus | DERAvailability) -> bytes:
    body = doc.to_xml(skip_empty=True, exclude_none=True)
    assert isinstance(body, bytes)
    return body


def test_basic_der_documents_round_trip(running: Running) -> None:
    """CSIP: a DER client reports its nameplate (DERCapability), its settings (DERSettings),
    its status (DERStatus) and its availability (DERAvailability) with PUT to the links of
    its DER; the server keeps the latest of each."""
    device = provision.end_device(running, "device1")
    cap = DERCapability(
        modes_supported="00000001", rtg_max_w=ActivePower(multiplier=3, value=5), type=4
    )
    settings = DERSettings(
        set_grad_w=100, set_max_w=ActivePower(multiplier=3, value=5), updated_time=1
    )
    status = DERStatus(reading_time=1_700_000_000)
    avail = DERAvailability(
        reading_time=1_700_000_000, stat_w_avail=ActivePower(multiplier=3, value=4)
    )
    with running.client("device1") as c:
        ders = DERList.from_xml(c.get(f"/edev/{device.id}/der", params={"l": 5}).content)
        assert ders.all == 1
        der = DER.from_xml(c.get(ders.items[0].href or "").content)
        links = {
            "cap": der.der_capability_link,
            "settings": der.der_settings_link,
            "status": der.der_status_link,
            "avail": der.der_availability_link,
        }
        hrefs = {k: v.href for k, v in links.items() if v is not None}
        assert c.get(hrefs["cap"]).status_code == 404  # nothing reported yet
        for key, doc in (
            ("cap", cap),
            ("settings", settings),
            ("status", status),
            ("avail", avail),
        ):
            assert c.put(hrefs[key], content=_xml(doc), headers=SEP).status_code == 204
        got_cap = DERCapability.from_xml(c.get(hrefs["cap"]).content)
        got_status = DERStatus.from_xml(c.get(hrefs["status"]).content)
        got_avail = DERAvailability.from_xml(c.get(hrefs["avail"]).content)
        got_settings = DERSettings.from_xml(c.get(hrefs["settings"]).content)
    assert got_cap.rtg_max_w == cap.rtg_max_w
    assert got_cap.href == hrefs["cap"]
    assert got_status.reading_time == status.reading_time
    assert got_avail.stat_w_avail == avail.stat_w_avail
    assert got_settings.set_grad_w == 100
    latest = running.services.ders.latest(device.id)
    assert latest is not None
    assert latest.capability is not None
    assert latest.capability.rtg_max_w.value == 5


def test_basic_a_later_put_replaces_the_document(running: Running) -> None:
    device = provision.end_device(running, "device1")
    path = f"/edev/{device.id}/der/1/ders"
    with running.client("device1") as c:
        for t in (1, 2):
            c.put(path, content=_xml(DERStatus(reading_time=t)), headers=SEP)
        assert DERStatus.from_xml(c.get(path).content).reading_time == 2


def test_basic_csipaus_doe_modes_are_kept(running: Running) -> None:
    """CSIP-AUS extends DERCapability with csipaus:doeModesSupported (required of CSIP-AUS
    clients) and DERSettings with csipaus:doeModesEnabled: "Bitmap indicating the DOE
    controls implemented by the device" (bit 0 opModExpLimW, 1 opModImpLimW, 2 opModGenLimW,
    3 opModLoadLimW). The server keeps them and serves them back (cactus S-ALL-10); the
    documents validate against sep.xsd as csipaus-core.xsd extends it."""
    device = provision.end_device(running, "device1")
    base = f"/edev/{device.id}/der/1"
    cap = DERCapability(
        modes_supported="03",
        rtg_max_w=ActivePower(multiplier=0, value=10000),
        type=4,
        doe_modes_supported="0F",
    )
    settings = DERSettings(
        set_grad_w=100,
        set_max_w=ActivePower(multiplier=0, value=10000),
        updated_time=1,
        doe_modes_enabled="03",
    )
    with running.client("device1") as c:
        assert c.put(f"{base}/dercap", content=_xml(cap), headers=SEP).status_code == 204
        assert c.put(f"{base}/derg", content=_xml(settings), headers=SEP).status_code == 204
        got_cap = c.get(f"{base}/dercap")
        got_settings = DERSettings.from_xml(c.get(f"{base}/derg").content)
    assert b"<csipaus:doeModesSupported>0F</csipaus:doeModesSupported>" in got_cap.content
    assert DERCapability.from_xml(got_cap.content).doe_modes_supported == "0F"
    assert got_settings.doe_modes_enabled == "03"
