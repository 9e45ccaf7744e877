"""ERR cases of the metering mirrors: CSIP asks that a server "SHALL respond with an error
and not change state" on a malformed or unauthorised request; each case below compares
every 2030.5 table before and after."""

from __future__ import annotations

from openderms.protocols.ieee2030_5.schema.metering import MirrorMeterReading, Reading
from tests.protocols.ieee2030_5 import provision
from tests.protocols.ieee2030_5.conftest import Running, Snapshot
from tests.protocols.ieee2030_5.test_metering import (
    SEP,
    W_MRID,
    body,
    readings,
    usage_point,
)


def test_err_a_usage_point_for_another_clients_device_is_refused(
    running: Running, snapshot: Snapshot
) -> None:
    """deviceLFDI names an EndDevice the client does not own or manage: 403, no change."""
    provision.end_device(running, "device1")
    provision.end_device(running, "device2")
    other = running.pki.identities["device2"].lfdi
    before = snapshot()
    with running.client("device1") as c:
        assert c.post("/mup", content=body(usage_point(other)), headers=SEP).status_code == 403
    assert snapshot() == before


def test_err_malformed_documents_change_nothing(running: Running, snapshot: Snapshot) -> None:
    """A body that is not a MirrorUsagePoint, a MirrorMeterReading without the ReadingType
    a new one needs, and a Reading without a value: 400, no change."""
    provision.end_device(running, "device1")
    lfdi = running.pki.identities["device1"].lfdi
    with running.client("device1") as c:
        href = c.post("/mup", content=body(usage_point(lfdi)), headers=SEP).headers["location"]
        before = snapshot()
        bad_mup = body(usage_point(lfdi)).replace(b"<status>1</status>", b"")
        assert c.post("/mup", content=bad_mup, headers=SEP).status_code == 400
        assert c.post("/mup", content=b"<MirrorUsagePoint", headers=SEP).status_code == 400
        new = MirrorMeterReading(mrid="E" * 32, reading=Reading(value=1))
        assert c.post(href, content=body(new), headers=SEP).status_code == 400
        empty = MirrorMeterReading(mrid=W_MRID, reading=Reading(quality_flags="01"))
        assert c.post(href, content=body(empty), headers=SEP).status_code == 400
        assert c.post(href, content=b"<Time/>", headers=SEP).status_code == 400
    assert snapshot() == before


def test_err_readings_to_another_clients_usage_point_are_refused(
    running: Running, snapshot: Snapshot
) -> None:
    """A usage point is only visible to its device (and that device's aggregator): 404."""
    provision.end_device(running, "device1")
    provision.end_device(running, "device2")
    lfdi = running.pki.identities["device1"].lfdi
    with running.client("device1") as c:
        href = c.post("/mup", content=body(usage_point(lfdi)), headers=SEP).headers["location"]
    before = snapshot()
    with running.client("device2") as c:
        assert c.post(href, content=body(readings(1, 1)), headers=SEP).status_code == 404
        # the same mRID posted by another device is someone else's usage point
        own = running.pki.identities["device2"].lfdi
        assert c.post("/mup", content=body(usage_point(own)), headers=SEP).status_code == 409
    assert snapshot() == before
