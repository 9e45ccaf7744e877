"""LogEvent (IEEE 2030.5 clause 9.5) after the CSIP BASIC procedures and ERR cases: a client
POSTs LogEvents to the LogEventListLink of its EndDevice and reads them back, newest first;
another client's EndDevice is refused with nothing kept."""

from __future__ import annotations

from openderms.protocols.ieee2030_5.schema.edev import EndDevice
from openderms.protocols.ieee2030_5.schema.log import LogEvent, LogEventList
from tests.protocols.ieee2030_5 import provision
from tests.protocols.ieee2030_5.conftest import Running, Snapshot

SEP = {"content-type": "application/sep+xml"}


def body(created: int, code: int = 3) -> bytes:
    event = LogEvent(
        created_date_time=created,
        details="over-voltage trip",
        function_set=0,
        log_event_code=code,
        log_event_id=7,
        log_event_pen=12345,
        profile_id=2,
    )
    out = event.to_xml(skip_empty=True, exclude_none=True)
    assert isinstance(out, bytes)
    return out


def test_basic_log_events_are_posted_and_listed(running: Running) -> None:
    device = provision.end_device(running, "device1")
    with running.client("device1") as c:
        edev = EndDevice.from_xml(c.get(f"/edev/{device.id}").content)
        assert edev.log_event_list_link is not None
        href = edev.log_event_list_link.href
        first = c.post(href, content=body(1_800_000_000, code=1), headers=SEP)
        second = c.post(href, content=body(1_800_000_060, code=2), headers=SEP)
        assert (first.status_code, second.status_code) == (201, 201)
        got = LogEvent.from_xml(c.get(first.headers["location"]).content)
        listed = LogEventList.from_xml(c.get(href, params={"l": 10}).content)
    assert (got.log_event_code, got.details) == (1, "over-voltage trip")
    assert [e.log_event_code for e in listed.items] == [2, 1]
    assert listed.items[0].href == second.headers["location"]


def test_err_log_events_of_another_device_are_refused(running: Running, snapshot: Snapshot) -> None:
    mine = provision.end_device(running, "device1")
    other = provision.end_device(running, "device2")
    before = snapshot()
    with running.client("device1") as c:
        href = f"/edev/{other.id}/lel"
        assert c.post(href, content=body(1_800_000_000), headers=SEP).status_code == 404
        assert c.get(href).status_code == 404
        bad = body(1).replace(b"<profileID>2</profileID>", b"")
        assert c.post(f"/edev/{mine.id}/lel", content=bad, headers=SEP).status_code == 400
    assert snapshot() == before
