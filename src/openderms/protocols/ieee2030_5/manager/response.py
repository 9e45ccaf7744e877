"""Responses to DERControls (clause 10.4, table 27): clients POST a DERControlResponse to
the ``replyTo`` of a control whose ``responseRequired`` asks for one; the control loop reads
them per control for its delivery tracking:

    by_device = services.responses.of_control(mrid)   # {EndDevice id: (responses, oldest first)}
    started = {d for d, rs in by_device.items() if rs[-1].status == EVENT_STARTED}

A refused response (an EndDevice the client does not own or manage, a control that device
is not given, a status table 27 does not define) changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, datetime

from openderms.errors import NotFoundError, PermissionDeniedError, ValidationError, ValidationIssue
from openderms.protocols.ieee2030_5.domain import Client, ControlResponse
from openderms.protocols.ieee2030_5.repository.derp import DerProgramRepository
from openderms.protocols.ieee2030_5.repository.edev import EndDeviceRepository
from openderms.protocols.ieee2030_5.repository.response import ResponseRepository
from openderms.protocols.ieee2030_5.schema.response import RESPONSE_STATUSES, ResponseBase

Clock = Callable[[], datetime]


class ResponseManager:
    def __init__(
        self,
        repo: ResponseRepository,
        end_devices: EndDeviceRepository,
        programs: DerProgramRepository,
        clock: Clock,
        pen: int,
    ) -> None:
        #: the IANA private enterprise number ending the server's mRIDs
        self.pen = pen
        self._repo = repo
        self._end_devices = end_devices
        self._programs = programs
        self._clock = clock

    def visible(self, client: Client) -> list[ControlResponse]:
        """The responses of the EndDevices the client may see, newest first."""
        return self._repo.visible_to(client.lfdi, client.kind == "aggregator")

    def get(self, client: Client, response_id: int) -> ControlResponse:
        for found in self.visible(client):
            if found.id == response_id:
                return found
        raise NotFoundError("Response", str(response_id))

    def post(self, client: Client, posted: ResponseBase) -> ControlResponse:
        """Keep a client's response about a DERControl."""
        device = self._end_devices.by_lfdi(posted.end_device_lfdi.lower())
        if device is None or not device.visible_to(client):
            raise PermissionDeniedError(
                f"endDeviceLFDI {posted.end_device_lfdi} is not the client's"
            )
        issues = []
        if posted.status is None or posted.status not in RESPONSE_STATUSES:
            issues.append(_issue(posted.subject, "status", posted.status, "a status of table 27"))
        control = self._programs.control_by_mrid(posted.subject.upper())
        given = {p.id for p in self._programs.visible_to(device.lfdi, aggregator=False)}
        if control is None or control.program_id not in given:
            issues.append(
                _issue(posted.subject, "subject", posted.subject, "a control given to the device")
            )
        if issues:
            raise ValidationError(issues)
        assert control is not None
        assert posted.status is not None
        now = self._clock()
        created = (
            datetime.fromtimestamp(posted.created_date_time, UTC)
            if posted.created_date_time is not None
            else now
        )
        return self._repo.add(
            {
                "control_mrid": control.mrid,
                "end_device_id": device.id,
                "status": posted.status,
                "created_time": created,
                "received_at": now,
            }
        )

    # -- internal API ---------------------------------------------------------------------

    def of_control(self, control_mrid: str) -> dict[int, tuple[ControlResponse, ...]]:
        """The responses about one control, per EndDevice id, oldest first."""
        out: dict[int, list[ControlResponse]] = {}
        for found in self._repo.of_control(control_mrid.upper()):
            out.setdefault(found.end_device_id, []).append(found)
        return {device: tuple(items) for device, items in out.items()}

    def of_controls(self, control_mrids: Collection[str]) -> list[ControlResponse]:
        """The responses about any of these controls, oldest first, in one read."""
        return self._repo.of_controls([m.upper() for m in control_mrids])


def _issue(subject: str, field: str, value: object, expected: str) -> ValidationIssue:
    return ValidationIssue("DERControlResponse", subject, field, value, expected)
