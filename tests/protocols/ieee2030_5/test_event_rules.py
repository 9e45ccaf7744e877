"""CORE event rules on DERControls (IEEE 2030.5 clause 10.2.3, "Event rules and guidelines").

Clause 10.2.3.1 (as found with the search tool, 2030-2018.pages.dev part 73): "These rules and
guidelines are meant to specify client behavior in situations in which adjacent, nested, or
overlapping events could cause clients to behave in an unexpected or undesirable manner."
Clause 10.2.3.2 defines "Specified End Time: Time when an Event completes as specified in the
instance's interval attribute. This is calculated by adding Duration to Start Time."

The supersession rule itself (clause 10.2.3.3) was not found in the stored reference text;
what is tested here is the rule as the issue states it: within a program (one device set, one
primacy) a newer event whose interval is the same as or overlaps an older one's supersedes it
(EventStatus 4, Superseded); adjacent events (one's Specified End Time is the other's Start
Time) do not overlap; the ActiveDERControlList holds the controls whose interval covers now
and that are neither cancelled nor superseded. randomizeStart / randomizeDuration are passed
to clients as created.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from openderms.protocols.ieee2030_5.schema.derp import (
    ACTIVE,
    CANCELLED,
    SCHEDULED,
    SUPERSEDED,
    DERControlBase,
    DERControlList,
)
from tests.protocols.ieee2030_5 import provision
from tests.protocols.ieee2030_5.conftest import Running


def _statuses(running: Running, name: str, href: str) -> dict[str, int]:
    with running.client(name) as c:
        listed = DERControlList.from_xml(c.get(href, params={"l": 50}).content)
    return {d.mrid: d.event_status.current_status for d in listed.items}


def test_core_a_newer_overlapping_event_supersedes_the_older(running: Running) -> None:
    device = provision.end_device(running, "device1")
    program = provision.program(running, [device], "feeder-1")
    older = provision.control(running, program.id, start_in_s=-60, duration_s=900)
    newer = provision.control(running, program.id, start_in_s=300, duration_s=900)
    same = provision.control(running, program.id, start_in_s=300, duration_s=900)
    statuses = _statuses(running, "device1", f"/derp/{program.id}/derc")
    assert statuses == {older: SUPERSEDED, newer: SUPERSEDED, same: SCHEDULED}
    assert _statuses(running, "device1", f"/derp/{program.id}/actderc") == {}


def test_core_adjacent_events_do_not_supersede(running: Running) -> None:
    device = provision.end_device(running, "device1")
    program = provision.program(running, [device], "feeder-1")
    first = provision.control(running, program.id, start_in_s=-60, duration_s=360)
    second = provision.control(running, program.id, start_in_s=300, duration_s=600)
    statuses = _statuses(running, "device1", f"/derp/{program.id}/derc")
    assert statuses == {first: ACTIVE, second: SCHEDULED}
    assert _statuses(running, "device1", f"/derp/{program.id}/actderc") == {first: ACTIVE}


def test_core_cancelled_and_ended_events_keep_their_status(running: Running) -> None:
    device = provision.end_device(running, "device1")
    program = provision.program(running, [device], "feeder-1")
    cancelled = provision.control(running, program.id, start_in_s=60)
    running.services.programs.cancel_control(cancelled)
    ended = provision.control(running, program.id, start_in_s=-600, duration_s=60)
    newer = provision.control(running, program.id, start_in_s=-700, duration_s=3600)
    statuses = _statuses(running, "device1", f"/derp/{program.id}/derc")
    assert statuses == {cancelled: CANCELLED, newer: ACTIVE}
    stored = running.services.programs  # the ended one was not touched
    control = stored._repo.control_by_mrid(ended)
    assert control is not None
    assert control.status == SCHEDULED


def test_core_events_of_other_device_sets_do_not_supersede(running: Running) -> None:
    """A control for one EndDevice lives in that device's own program: it never supersedes
    another device's control."""
    device1 = provision.end_device(running, "device1")
    device2 = provision.end_device(running, "device2")
    programs = running.services.programs
    p1 = programs.device_program(device1.id)
    p2 = programs.device_program(device2.id)
    first = provision.control(running, p1.id)
    second = provision.control(running, p2.id)
    assert _statuses(running, "device1", f"/derp/{p1.id}/derc") == {first: ACTIVE}
    assert _statuses(running, "device2", f"/derp/{p2.id}/derc") == {second: ACTIVE}


def test_core_randomization_is_passed_through(running: Running) -> None:
    device = provision.end_device(running, "device1")
    program = provision.program(running, [device], "feeder-1")
    running.services.programs.create_control(
        program_id=program.id,
        start=datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5),
        duration_s=600,
        controls=DERControlBase(op_mod_max_lim_w=2500),
        randomize_start_s=120,
        randomize_duration_s=-30,
    )
    with running.client("device1") as c:
        body = c.get(f"/derp/{program.id}/derc").content
    control = DERControlList.from_xml(body).items[0]
    assert (control.randomize_start, control.randomize_duration) == (120, -30)
    assert b"<randomizeDuration>-30</randomizeDuration><randomizeStart>120" in body
