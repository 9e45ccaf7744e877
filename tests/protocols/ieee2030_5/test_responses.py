"""Response sets (IEEE 2030.5 clause 10.4) after the CSIP BASIC procedures on event
responses and ERR cases.

2030.5 clause 10.4: "responseRequired [...] Indicates whether or not a response is required
upon receipt, creation or update of this event", bit 0 "Enable Receipt/Delivery" and bit 1
"Enable Response Required"; the client posts its Response to the event's ``replyTo``.
Table 27 defines the DERControl response statuses: 1 event received, 2 event started,
3 event completed, 4 opted out, ... 252-254 rejected.
"""

from __future__ import annotations

from openderms.protocols.ieee2030_5.schema.derp import DERControlList
from openderms.protocols.ieee2030_5.schema.response import (
    EVENT_COMPLETED,
    EVENT_RECEIVED,
    EVENT_STARTED,
    REJECTED_INVALID_EVENT,
    DERControlResponse,
    ResponseList,
    ResponseSet,
    ResponseSetList,
)
from tests.protocols.ieee2030_5 import provision
from tests.protocols.ieee2030_5.conftest import Running, Snapshot

SEP = {"content-type": "application/sep+xml"}


def body(lfdi: str, subject: str, status: int | None, created: int | None = None) -> bytes:
    doc = DERControlResponse(
        created_date_time=created, end_device_lfdi=lfdi.upper(), status=status, subject=subject
    )
    out = doc.to_xml(skip_empty=True, exclude_none=True)
    assert isinstance(out, bytes)
    return out


def test_basic_controls_ask_for_responses_at_their_reply_to(running: Running) -> None:
    """Every DERControl names the ResponseList as ``replyTo`` with ``responseRequired``
    03 (receipt and specific responses); the ResponseSetList leads to that list."""
    device = provision.end_device(running, "device1")
    program = provision.program(running, [device], "feeder-1")
    provision.control(running, program.id)
    with running.client("device1") as c:
        derc = DERControlList.from_xml(c.get(f"/derp/{program.id}/derc").content).items[0]
        sets = ResponseSetList.from_xml(c.get("/rsps").content)
        one = ResponseSet.from_xml(c.get(sets.items[0].href or "").content)
    assert (derc.reply_to, derc.response_required) == ("/rsps/1/rsp", "03")
    assert (sets.all, sets.poll_rate) == (1, 900)
    assert one.response_list_link is not None
    assert one.response_list_link.href == derc.reply_to


def test_basic_received_started_completed_are_tracked_per_device(running: Running) -> None:
    """A device reports received (1), started (2) and completed (3); an aggregator reports
    for the device it manages. The control loop reads them per control and EndDevice."""
    device1 = provision.end_device(running, "device1")
    device2 = provision.end_device(running, "device2", aggregator="aggA")
    program = provision.program(running, [device1, device2], "feeder-1")
    mrid = provision.control(running, program.id)
    lfdi1 = running.pki.identities["device1"].lfdi
    lfdi2 = running.pki.identities["device2"].lfdi
    with running.client("device1") as c:
        for t, status in enumerate((EVENT_RECEIVED, EVENT_STARTED, EVENT_COMPLETED)):
            r = c.post(
                "/rsps/1/rsp", content=body(lfdi1, mrid, status, 1_800_000_000 + t), headers=SEP
            )
            assert r.status_code == 201
        got = DERControlResponse.from_xml(c.get(r.headers["location"]).content)
        mine = ResponseList.from_xml(c.get("/rsps/1/rsp", params={"l": 10}).content)
    with running.client("aggA") as c:
        r = c.post("/rsps/1/rsp", content=body(lfdi2, mrid, REJECTED_INVALID_EVENT), headers=SEP)
        assert r.status_code == 201
        theirs = ResponseList.from_xml(c.get("/rsps/1/rsp", params={"l": 10}).content)
    assert got.status == EVENT_COMPLETED
    assert got.subject == mrid
    assert [x.status for x in mine.items] == [3, 2, 1]  # newest first
    assert [x.end_device_lfdi.lower() for x in theirs.items] == [lfdi2]
    tracked = running.services.responses.of_control(mrid)
    assert [x.status for x in tracked[device1.id]] == [1, 2, 3]
    assert [x.status for x in tracked[device2.id]] == [REJECTED_INVALID_EVENT]


def test_err_refused_responses_change_nothing(running: Running, snapshot: Snapshot) -> None:
    """A status table 27 does not define, a subject that is not a control given to the
    device, another client's EndDevice, a malformed body: refused, nothing kept."""
    device1 = provision.end_device(running, "device1")
    device2 = provision.end_device(running, "device2")
    mine = provision.control(running, provision.program(running, [device1], "p1").id)
    theirs = provision.control(running, provision.program(running, [device2], "p2").id)
    lfdi1 = running.pki.identities["device1"].lfdi
    lfdi2 = running.pki.identities["device2"].lfdi
    before = snapshot()
    with running.client("device1") as c:
        assert c.post("/rsps/1/rsp", content=body(lfdi1, mine, 99), headers=SEP).status_code == 400
        assert (
            c.post("/rsps/1/rsp", content=body(lfdi1, mine, None), headers=SEP).status_code == 400
        )
        assert c.post("/rsps/1/rsp", content=body(lfdi1, theirs, 1), headers=SEP).status_code == 400
        assert (
            c.post("/rsps/1/rsp", content=body(lfdi1, "F" * 32, 1), headers=SEP).status_code == 400
        )
        assert c.post("/rsps/1/rsp", content=body(lfdi2, theirs, 1), headers=SEP).status_code == 403
        assert c.post("/rsps/1/rsp", content=b"<Response", headers=SEP).status_code == 400
        assert c.post("/rsps/2/rsp", content=body(lfdi1, mine, 1), headers=SEP).status_code == 404
    assert snapshot() == before
    assert running.services.responses.of_control(mine) == {}
