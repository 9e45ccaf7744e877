"""What cactus-client sends that a strict reading of sep.xsd would refuse, and we accept."""

from __future__ import annotations

from openderms.protocols.ieee2030_5.schema.metering import PostedMirrorMeterReadingList

#: as cactus-client POSTs readings to /mup/{id}: a list without ``all`` and ``results``
CACTUS_READINGS = (
    b'<MirrorMeterReadingList xmlns="urn:ieee:std:2030.5:ns"><MirrorMeterReading>'
    b"<mRID>3D93522BF35B3BDF3BA2CC8D00012345</mRID><Reading><timePeriod><duration>60"
    b"</duration><start>1795826940</start></timePeriod><value>5000</value></Reading>"
    b"</MirrorMeterReading></MirrorMeterReadingList>"
)


def test_metering_posted_reading_list_needs_no_page_counts() -> None:
    posted = PostedMirrorMeterReadingList.from_xml(CACTUS_READINGS)
    assert [m.mrid for m in posted.items] == ["3D93522BF35B3BDF3BA2CC8D00012345"]
    assert posted.items[0].reading is not None
    assert posted.items[0].reading.value == 5000
