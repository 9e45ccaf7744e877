"""``ResponseSource`` from the 2030.5 server's DERControl responses (clause 10.4, table 27).

``Ieee2030_5Responses.watch(handle, expiry)`` follows one sent control (its DERControl mRID);
``drain`` reads the responses posted since the last call through the server's internal API
(``services.responses.of_controls(mrids)``: one read for all the controls it follows) and
maps their status: 1 received, 2 started, 3 completed; opted out, partial opt-out, completed
without participation, aborted, rejected and cannot-be-displayed are ``NOT_DELIVERED``;
cancelled, superseded, opted in and acknowledged say nothing new. A control is no longer
followed an hour after its expiry.
``Ieee2030_5Delivery(..., responses=...)`` calls ``watch`` for every control it sends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from types import MappingProxyType

from openderms.protocols.ieee2030_5.manager.response import ResponseManager
from openderms.services.control_loop.ports import DeliveryHandle, ResponseEvent, ResponseStatus

#: table 27 status -> what the queue tracks (read-only; missing: nothing new)
STATUS_OF: Mapping[int, ResponseStatus | None] = MappingProxyType(
    {
        1: ResponseStatus.RECEIVED,
        2: ResponseStatus.STARTED,
        3: ResponseStatus.COMPLETED,
        4: ResponseStatus.NOT_DELIVERED,  # opted out
        8: ResponseStatus.NOT_DELIVERED,  # partial opt-out
        10: ResponseStatus.NOT_DELIVERED,  # completed with no participation
        12: ResponseStatus.NOT_DELIVERED,  # cannot be displayed
        13: ResponseStatus.NOT_DELIVERED,  # aborted: server event
        14: ResponseStatus.NOT_DELIVERED,  # aborted: program event
        252: ResponseStatus.NOT_DELIVERED,  # rejected: not applicable
        253: ResponseStatus.NOT_DELIVERED,  # rejected: invalid event
        254: ResponseStatus.NOT_DELIVERED,  # rejected: received late
    }
)
_KEEP_AFTER_EXPIRY = timedelta(hours=1)


class Ieee2030_5Responses:  # noqa: N801 (the standard's name)
    """Reports about watched controls, read from the 2030.5 server (module docstring)."""

    def __init__(self, responses: ResponseManager, clock: Callable[[], datetime]) -> None:
        self._responses = responses
        self._clock = clock
        self._watched: dict[str, tuple[str, datetime]] = {}  # mRID -> (DER id, expiry)
        self._seen: set[int] = set()

    def watch(self, handle: DeliveryHandle, expiry: datetime) -> None:
        self._watched[handle.ref] = (handle.der_id, expiry)

    def drain(self) -> Sequence[ResponseEvent]:
        now = self._clock()
        out: list[ResponseEvent] = []
        by_upper = {mrid.upper(): mrid for mrid in self._watched}
        for r in self._responses.of_controls(list(self._watched)):
            status = STATUS_OF.get(r.status)
            mrid = by_upper.get(r.control_mrid.upper())
            if mrid is None or r.id in self._seen or status is None:
                continue
            self._seen.add(r.id)
            out.append(ResponseEvent(mrid, self._watched[mrid][0], status, r.created_time))
        for mrid, (_, expiry) in list(self._watched.items()):
            if now > expiry + _KEEP_AFTER_EXPIRY:
                del self._watched[mrid]
        out.sort(key=lambda e: e.at)
        return out
