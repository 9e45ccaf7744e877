"""Plain values the 2030.5 server's layers pass around (repository -> manager -> mapper).

Times are aware UTC datetimes (the mapper converts to 2030.5 epoch seconds); durations are
whole seconds. Control settings travel as the wire model ``DERControlBase`` itself: it is
already a validated, typed value and what a client reads back must be exactly what was set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from openderms.protocols.ieee2030_5.schema.der import (
    DERAvailability,
    DERCapability,
    DERSettings,
    DERStatus,
)
from openderms.protocols.ieee2030_5.schema.derp import DefaultDERControl, DERControlBase, DERCurve
from openderms.protocols.ieee2030_5.security.identity import ClientIdentity, ClientKind

#: EventStatus values the server sets that stay whatever the clock says
FINAL_STATUSES = frozenset({2, 3, 4})
#: CSIP default pollRate (seconds) when none is set
DEFAULT_POLL_RATE_S = 900
#: CSIP default postRate (seconds) for telemetry
DEFAULT_POST_RATE_S = 300


@dataclass(frozen=True, slots=True)
class Client:
    """The certificate holder making a request, and what kind of client it is."""

    identity: ClientIdentity
    kind: ClientKind

    @property
    def lfdi(self) -> str:
        return self.identity.lfdi


@dataclass(frozen=True, slots=True)
class EndDevice:
    id: int
    lfdi: str
    sfdi: int
    aggregator_lfdi: str | None
    device_category: str | None
    enabled: bool
    post_rate_s: int | None
    pin: int | None
    registered_at: datetime | None
    changed_time: datetime
    der_id: str | None = None
    #: CSIP-AUS ConnectionPoint id (by default the NMI); None: none given
    connection_point_id: str | None = None

    def visible_to(self, client: Client) -> bool:
        """A device sees its own EndDevice; an aggregator those mapped to it."""
        if client.kind == "aggregator":
            return client.lfdi in (self.aggregator_lfdi, self.lfdi)
        return self.lfdi == client.lfdi


@dataclass(frozen=True, slots=True)
class Fsa:
    id: int
    mrid: str
    description: str
    version: int


@dataclass(frozen=True, slots=True)
class DerProgram:
    id: int
    mrid: str
    fsa_id: int
    description: str
    primacy: int
    version: int
    default_control: DefaultDERControl | None = None


@dataclass(frozen=True, slots=True)
class DerControl:
    id: int
    mrid: str
    program_id: int
    description: str
    creation_time: datetime
    start: datetime
    duration_s: int
    status: int
    status_time: datetime
    controls: DERControlBase
    randomize_start_s: int | None = None
    randomize_duration_s: int | None = None

    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.duration_s)

    def current_status(self, now: datetime) -> int:
        """EventStatus.currentStatus at ``now`` (clause 12.1.3): Scheduled (0) before the
        interval, Active (1) inside it, unless Cancelled (2, 3) or Superseded (4)."""
        if self.status in FINAL_STATUSES:
            return self.status
        return 1 if self.start <= now < self.end() else 0


@dataclass(frozen=True, slots=True)
class DerCurveRecord:
    id: int
    mrid: str
    program_id: int
    curve: DERCurve


@dataclass(frozen=True, slots=True)
class DerInfo:
    """What a client reported for one of its DER (the latest document of each kind)."""

    end_device_id: int
    der_index: int
    capability: DERCapability | None = None
    settings: DERSettings | None = None
    status: DERStatus | None = None
    availability: DERAvailability | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """List paging of 2030.5 (clause 8.2.1.4): ``start`` (query ``s``) is the index of the
    first item, ``after`` (``a``, epoch s) keeps items changed at or after it (0: all),
    ``limit`` (``l``) is the most items returned."""

    start: int = 0
    after: int = 0
    limit: int = 1


@dataclass(frozen=True, slots=True)
class MirrorUsagePointRecord:
    """A MirrorUsagePoint: where a client mirrors one EndDevice's meter readings."""

    id: int
    mrid: str
    end_device_id: int
    description: str
    role_flags: str
    service_category_kind: int
    status: int
    post_rate_s: int | None
    changed_time: datetime


@dataclass(frozen=True, slots=True)
class MirrorMeterReadingRecord:
    """One measured quantity of a MirrorUsagePoint; ``reading_type`` is the ReadingType's
    JSON (wire model ``model_dump(mode="json")``)."""

    id: int
    mrid: str
    mup_id: int
    description: str
    reading_type: dict[str, object]
    changed_time: datetime


@dataclass(frozen=True, slots=True)
class LatestReading:
    """The newest value of one MirrorMeterReading of an EndDevice, kept in memory for the
    control loop: ``value`` = raw x 10^``power_of_ten`` in unit ``uom`` (UomType: 38 W,
    63 var, 29 V, 33 Hz, 72 Wh; None when the client gave none)."""

    end_device_id: int
    mmr_mrid: str
    description: str
    reading_time: datetime
    raw: int
    power_of_ten: int
    uom: int | None

    @property
    def value(self) -> float:
        return self.raw * 10.0**self.power_of_ten


@dataclass(frozen=True, slots=True)
class ControlResponse:
    """A Response a client posted about a DERControl (``status``: table 27 of 2030.5)."""

    id: int
    control_mrid: str
    end_device_id: int
    lfdi: str
    der_id: str | None
    status: int
    created_time: datetime
    received_at: datetime
