"""CORE procedures on DERControl events created through the internal API: they appear in the
program's lists at once (the cached lists are invalidated on change), with the event status
of the moment, in the standard's order; device-specific controls reach only that device."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from openderms.errors import NotFoundError, ValidationError
from openderms.protocols.ieee2030_5.schema.derp import (
    DERControlBase,
    DERControlList,
    DERProgramList,
)
from tests.protocols.ieee2030_5 import provision
from tests.protocols.ieee2030_5.conftest import Running, Snapshot


def _controls(running: Running, name: str, href: str) -> DERControlList:
    with running.client(name) as c:
        return DERControlList.from_xml(c.get(href, params={"l": 50}).content)


def test_core_a_new_control_is_served_at_once(running: Running) -> None:
    """Polls are answered from memory; creating a control invalidates the program's list."""
    device = provision.end_device(running, "device1")
    program = provision.program(running, [device], "feeder-1")
    href = f"/derp/{program.id}/derc"
    assert _controls(running, "device1", href).all == 0
    first = provision.control(running, program.id)
    assert [c.mrid for c in _controls(running, "device1", href).items] == [first]
    second = provision.control(running, program.id, start_in_s=3600)
    assert [c.mrid for c in _controls(running, "device1", href).items] == [first, second]


def test_core_event_status_scheduled_active_cancelled(running: Running) -> None:
    """IEEE 2030.5 events: currentStatus 0 Scheduled before the interval, 1 Active inside it,
    2 Cancelled once cancelled; ActiveDERControlList holds only the active ones."""
    device = provision.end_device(running, "device1")
    program = provision.program(running, [device], "feeder-1")
    now_mrid = provision.control(running, program.id, start_in_s=-10, duration_s=300)
    later_mrid = provision.control(running, program.id, start_in_s=600)
    listed = {c.mrid: c for c in _controls(running, "device1", f"/derp/{program.id}/derc").items}
    assert listed[now_mrid].event_status.current_status == 1
    assert listed[later_mrid].event_status.current_status == 0
    active = _controls(running, "device1", f"/derp/{program.id}/actderc")
    assert [c.mrid for c in active.items] == [now_mrid]
    running.services.programs.cancel_control(now_mrid)
    listed = {c.mrid: c for c in _controls(running, "device1", f"/derp/{program.id}/derc").items}
    assert listed[now_mrid].event_status.current_status == 2
    assert _controls(running, "device1", f"/derp/{program.id}/actderc").all == 0


def test_core_ended_controls_leave_the_list(running: Running) -> None:
    device = provision.end_device(running, "device1")
    program = provision.program(running, [device], "feeder-1")
    provision.control(running, program.id, start_in_s=-7200, duration_s=60)
    assert _controls(running, "device1", f"/derp/{program.id}/derc").all == 0


def test_core_controls_are_ordered_by_start(running: Running) -> None:
    """DERControlList order: interval start ascending, then creation time descending."""
    device = provision.end_device(running, "device1")
    program = provision.program(running, [device], "feeder-1")
    late = provision.control(running, program.id, start_in_s=900)
    early = provision.control(running, program.id, start_in_s=300)
    listed = _controls(running, "device1", f"/derp/{program.id}/derc")
    assert [c.mrid for c in listed.items] == [early, late]


def test_core_device_control_reaches_only_that_device(running: Running) -> None:
    """A control for one EndDevice goes into a program of its own, in an FSA handed to that
    EndDevice alone."""
    one = provision.end_device(running, "device1")
    provision.end_device(running, "device2")
    mrid = running.services.programs.create_control(
        end_device_id=one.id,
        start=datetime.now(UTC),
        duration_s=300,
        controls=DERControlBase(op_mod_connect=False),
    )
    with running.client("device1") as c:
        programs = DERProgramList.from_xml(c.get("/derp", params={"l": 10}).content)
    assert len(programs.items) == 1
    link = programs.items[0].der_control_list_link
    assert link is not None
    assert [x.mrid for x in _controls(running, "device1", link.href).items] == [mrid]
    with running.client("device2") as c:
        assert DERProgramList.from_xml(c.get("/derp").content).all == 0


def test_core_every_csip_control_is_served_as_set(running: Running) -> None:
    device = provision.end_device(running, "device1")
    program = provision.program(running, [device], "feeder-1")
    from tests.protocols.ieee2030_5.test_schema import FULL_CONTROLS

    provision.control(running, program.id, controls=FULL_CONTROLS)
    listed = _controls(running, "device1", f"/derp/{program.id}/derc")
    assert listed.items[0].der_control_base == FULL_CONTROLS


@pytest.mark.parametrize(
    "kwargs",
    [
        {"duration_s": 0},
        {"start": datetime(2030, 1, 1)},
        {"controls": DERControlBase()},
        {"description": "x" * 33},
        {"program_id": None},
    ],
)
def test_core_refused_controls_write_nothing(
    running: Running, snapshot: Snapshot, kwargs: dict[str, object]
) -> None:
    device = provision.end_device(running, "device1")
    program = provision.program(running, [device], "feeder-1")
    before = snapshot()
    args: dict[str, object] = {
        "program_id": program.id,
        "start": datetime.now(UTC) + timedelta(minutes=5),
        "duration_s": 600,
        "controls": DERControlBase(op_mod_max_lim_w=0),
    }
    args.update(kwargs)
    with pytest.raises(ValidationError):
        running.services.programs.create_control(**args)  # type: ignore[arg-type]
    assert snapshot() == before


def test_core_controls_for_unknown_targets_are_refused(running: Running) -> None:
    with pytest.raises(NotFoundError):
        provision.control(running, 4242)
