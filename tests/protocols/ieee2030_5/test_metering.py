"""Metering mirrors over TLS, after the CSIP-AUS server procedures S-ALL-06 (Mirror Usage
Point Creation and Individual Readings) and S-ALL-07 (Select Edge Cases for Telemetry
Reporting), the CORE discovery of the MirrorUsagePointList and ERR cases.

IEEE 2030.5 clause 10.7 (Metering Mirror): "a client [...] creates a MirrorUsagePoint by
POSTing to the MirrorUsagePointList; the server responds with the location of the new
resource", and a POST of a MirrorUsagePoint whose mRID the server already holds updates it.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from openderms.protocols.ieee2030_5.domain import Client
from openderms.protocols.ieee2030_5.manager.cache import CacheMiss
from openderms.protocols.ieee2030_5.schema.dcap import DeviceCapability
from openderms.protocols.ieee2030_5.schema.derp import DateTimeInterval
from openderms.protocols.ieee2030_5.schema.metering import (
    MirrorMeterReading,
    MirrorMeterReadingList,
    MirrorUsagePoint,
    MirrorUsagePointList,
    Reading,
    ReadingType,
)
from openderms.store.tables_2030_5 import SepReadingRow
from tests.protocols.ieee2030_5 import provision
from tests.protocols.ieee2030_5.conftest import Running, Snapshot

SEP = {"content-type": "application/sep+xml"}
MUP_MRID = "AAAAAAAAAAAAAAAAAAAAAAA000003039"
W_MRID = "BBBBBBBBBBBBBBBBBBBBBBBB00003039"
V_MRID = "CCCCCCCCCCCCCCCCCCCCCCCC00003039"
T0 = 1_800_000_000
#: UomType: 38 W, 29 V; kind 37 instantaneous, dataQualifier 2 average
WATTS = ReadingType(uom=38, kind=37, data_qualifier=2, flow_direction=1, power_of_ten_multiplier=0)
VOLTS = ReadingType(uom=29, kind=37, data_qualifier=2, flow_direction=1, power_of_ten_multiplier=-1)


def body(doc: MirrorUsagePoint | MirrorMeterReading | MirrorMeterReadingList) -> bytes:
    out = doc.to_xml(skip_empty=True, exclude_none=True)
    assert isinstance(out, bytes)
    return out


def usage_point(lfdi: str, mrid: str = MUP_MRID, *, status: int = 1) -> MirrorUsagePoint:
    return MirrorUsagePoint(
        mrid=mrid,
        description="site",
        role_flags="0003",  # isMirror | isPremisesAggregationPoint (site)
        service_category_kind=0,  # electricity
        status=status,
        device_lfdi=lfdi.upper(),
        readings=[
            MirrorMeterReading(mrid=W_MRID, description="W", reading_type=WATTS),
            MirrorMeterReading(mrid=V_MRID, description="V", reading_type=VOLTS),
        ],
        post_rate=60,
    )


def readings(w: int, v: int, t: int = T0) -> MirrorMeterReadingList:
    period = DateTimeInterval(duration=60, start=t)
    return MirrorMeterReadingList(
        all=2,
        results=2,
        items=[
            MirrorMeterReading(mrid=W_MRID, reading=Reading(value=w, time_period=period)),
            MirrorMeterReading(mrid=V_MRID, reading=Reading(value=v, time_period=period)),
        ],
    )


def reading_rows(running: Running) -> int:
    with running.store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(SepReadingRow)).scalar_one())


def test_core_device_capability_links_the_mirror_usage_point_list(running: Running) -> None:
    """S-ALL-02 discovery: DeviceCapability, Time, MirrorUsagePointList and EndDeviceList
    are discovered; the MirrorUsagePointList starts empty (S-ALL-06 step 1)."""
    provision.end_device(running, "device1")
    with running.client("device1") as c:
        dcap = DeviceCapability.from_xml(c.get("/dcap").content)
        assert dcap.mirror_usage_point_list_link is not None
        assert dcap.mirror_usage_point_list_link.all == 0
        mups = MirrorUsagePointList.from_xml(c.get(dcap.mirror_usage_point_list_link.href).content)
    assert (mups.all, mups.results, mups.poll_rate) == (0, 0, 900)


def test_s_all_06_mup_creation_and_individual_readings(running: Running) -> None:
    """S-ALL-06 steps 2-4: create a MirrorUsagePoint with its MirrorMeterReadings
    (ReadingTypes), then POST readings to it; the server keeps them (acknowledged once
    durable) and the control loop reads the newest value per EndDevice from memory."""
    device = provision.end_device(running, "device1")
    lfdi = running.pki.identities["device1"].lfdi
    with running.client("device1") as c:
        created = c.post("/mup", content=body(usage_point(lfdi)), headers=SEP)
        assert created.status_code == 201
        href = created.headers["location"]
        mup = MirrorUsagePoint.from_xml(c.get(href).content)
        assert [m.mrid for m in mup.readings] == [W_MRID, V_MRID]
        assert mup.readings[1].reading_type == VOLTS.model_copy(update={"href": None})
        for i, (w, v) in enumerate(((5000, 2300), (5100, 2310))):
            done = c.post(href, content=body(readings(w, v, T0 + 60 * i)), headers=SEP)
            assert done.status_code == 204
        listed = MirrorUsagePointList.from_xml(c.get("/mup", params={"l": 10}).content)
        dcap = DeviceCapability.from_xml(c.get("/dcap").content)
    assert [m.mrid for m in listed.items] == [MUP_MRID]
    assert dcap.mirror_usage_point_list_link is not None
    assert dcap.mirror_usage_point_list_link.all == 1
    assert reading_rows(running) == 4
    latest = running.services.metering.latest(device.id)
    assert latest[W_MRID].value == 5100
    assert latest[V_MRID].value == 231.0
    assert latest[W_MRID].uom == 38
    assert latest[W_MRID].reading_time.timestamp() == T0 + 60


def test_s_all_07_upsert_on_the_same_mrid_answers_204_and_keeps_one_point(
    running: Running,
) -> None:
    """S-ALL-07: "Post an initial MirrorUsagePoint to be overwritten later": a second POST
    with the same mRID updates the point (204, same Location) instead of adding one."""
    provision.end_device(running, "device1")
    lfdi = running.pki.identities["device1"].lfdi
    with running.client("device1") as c:
        first = c.post("/mup", content=body(usage_point(lfdi)), headers=SEP)
        again = c.post("/mup", content=body(usage_point(lfdi, status=0)), headers=SEP)
        assert again.status_code == 204
        assert again.headers["location"] == first.headers["location"]
        listed = MirrorUsagePointList.from_xml(c.get("/mup", params={"l": 10}).content)
    assert listed.all == 1
    assert listed.items[0].status == 0


def test_s_all_07_a_new_meter_reading_posted_alone_is_created(running: Running) -> None:
    """A MirrorMeterReading POSTed to its MirrorUsagePoint with a ReadingType it has not
    seen is created (201 + Location), and a later reading alone needs no ReadingType."""
    device = provision.end_device(running, "device1")
    lfdi = running.pki.identities["device1"].lfdi
    new_mrid = "DDDDDDDDDDDDDDDDDDDDDDDD00003039"
    hz = ReadingType(uom=33, kind=37, power_of_ten_multiplier=-2)
    with running.client("device1") as c:
        href = c.post("/mup", content=body(usage_point(lfdi)), headers=SEP).headers["location"]
        new = MirrorMeterReading(mrid=new_mrid, description="Hz", reading_type=hz)
        created = c.post(href, content=body(new), headers=SEP)
        assert created.status_code == 201
        got = MirrorMeterReading.from_xml(c.get(created.headers["location"]).content)
        assert got.reading_type is not None
        assert got.reading_type.uom == 33
        one = MirrorMeterReading(mrid=new_mrid, reading=Reading(value=5002))
        assert c.post(href, content=body(one), headers=SEP).status_code == 204
    assert running.services.metering.latest(device.id)[new_mrid].value == 50.02


def test_agg_an_aggregator_mirrors_the_devices_it_manages(running: Running) -> None:
    """AGG: an aggregator creates usage points for its EndDevices; a device does not see
    another's usage point, and the control loop finds readings by registry DER id."""
    device = provision.end_device(running, "device1", aggregator="aggA")
    running.services.end_devices.ensure(
        running.pki.identities["device1"], running.pki.identities["aggA"].lfdi, der_id="der-1"
    )
    lfdi = running.pki.identities["device1"].lfdi
    provision.end_device(running, "device2")
    with running.client("aggA") as c:
        href = c.post("/mup", content=body(usage_point(lfdi)), headers=SEP).headers["location"]
        assert c.post(href, content=body(readings(4200, 2290)), headers=SEP).status_code == 204
    with running.client("device2") as c:
        assert c.get(href).status_code == 404
        assert MirrorUsagePointList.from_xml(c.get("/mup").content).all == 0
    assert running.services.metering.latest_of_der("der-1")[W_MRID].value == 4200
    assert running.services.metering.latest(device.id)[W_MRID].value == 4200


def test_readings_alone_write_only_the_telemetry_table(
    running: Running, snapshot: Snapshot
) -> None:
    """A readings POST appends to ``sep_reading`` (batched) and writes nothing else: the
    usage point and its MirrorMeterReadings stay as they were."""
    provision.end_device(running, "device1")
    lfdi = running.pki.identities["device1"].lfdi
    with running.client("device1") as c:
        href = c.post("/mup", content=body(usage_point(lfdi)), headers=SEP).headers["location"]
        before = snapshot()
        assert c.post(href, content=body(readings(1, 2)), headers=SEP).status_code == 204
    after = snapshot()
    assert len(after.pop("sep_reading")) == len(before.pop("sep_reading")) + 2
    assert after == before


def test_agg_a_device_handed_to_another_aggregator_leaves_the_first(running: Running) -> None:
    """Usage points are served from memory once read; remapping the EndDevice to another
    aggregator is seen at once (the first aggregator's readings are refused)."""
    provision.end_device(running, "device1", aggregator="aggA")
    lfdi = running.pki.identities["device1"].lfdi
    with running.client("aggA") as c:
        href = c.post("/mup", content=body(usage_point(lfdi)), headers=SEP).headers["location"]
        assert c.post(href, content=body(readings(1, 2)), headers=SEP).status_code == 204
        provision.end_device(running, "device1", aggregator="aggB")
        assert c.post(href, content=body(readings(3, 4)), headers=SEP).status_code == 404
    with running.client("aggB") as c:
        assert c.post(href, content=body(readings(5, 6)), headers=SEP).status_code == 204


def test_a_post_taken_on_the_event_loop_is_only_readings_of_known_meter_readings(
    running: Running, snapshot: Snapshot
) -> None:
    """The telemetry fast path (``post_readings(..., cached_only=True)``, on the event loop)
    refuses, having changed nothing, whatever needs the database: a usage point not in
    memory, a new MirrorMeterReading, a changed description; readings of known ones it
    takes. Over HTTP each of these is then taken the usual way (worker thread)."""
    provision.end_device(running, "device1")
    who = Client(identity=running.pki.identities["device1"], kind="device")
    metering = running.services.metering
    lfdi = running.pki.identities["device1"].lfdi
    with running.client("device1") as c:
        href = c.post("/mup", content=body(usage_point(lfdi)), headers=SEP).headers["location"]
    mup_id = int(href.rsplit("/", 1)[1])
    period = DateTimeInterval(duration=60, start=T0)
    new = MirrorMeterReading(
        mrid="D" * 28 + "3039", reading_type=WATTS, reading=Reading(value=1, time_period=period)
    )
    renamed = MirrorMeterReading(
        mrid=W_MRID, description="W total", reading=Reading(value=2, time_period=period)
    )
    metering.invalidate()
    before = snapshot()
    for posted in ([readings(1, 2).items[0]], [new], [renamed]):
        with pytest.raises(CacheMiss):  # the usage point is not in memory
            metering.post_readings(who, mup_id, posted, cached_only=True)
    metering.mup(who, mup_id)  # now in memory
    for posted in ([new], [renamed]):
        with pytest.raises(CacheMiss):  # needs a write of the MirrorMeterReading
            metering.post_readings(who, mup_id, posted, cached_only=True)
    assert snapshot() == before
    done = metering.post_readings(who, mup_id, readings(3, 4).items, cached_only=True)
    done.durable.result(5)
    assert reading_rows(running) == len(before["sep_reading"]) + 2
