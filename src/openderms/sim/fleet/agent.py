"""One simulated DER as a 2030.5 client: discovers its programs, polls its controls,
applies them as its ``Behaviour`` says, posts telemetry (MirrorMeterReading) and Responses.

Powers in W, generator convention (positive = export). Time is epoch seconds (the 2030.5
edge's unit). Several agents may share one ``httpx.AsyncClient``: an aggregator's
certificate then speaks for every EndDevice it manages.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from openderms.protocols.ieee2030_5.schema.dcap import DeviceCapability
from openderms.protocols.ieee2030_5.schema.derp import (
    ACTIVE,
    SCHEDULED,
    DateTimeInterval,
    DefaultDERControl,
    DERControl,
    DERControlBase,
    DERControlList,
    DERProgramList,
)
from openderms.protocols.ieee2030_5.schema.edev import EndDevice, EndDeviceList
from openderms.protocols.ieee2030_5.schema.fsa import FunctionSetAssignmentsList
from openderms.protocols.ieee2030_5.schema.metering import (
    MirrorMeterReading,
    MirrorMeterReadingList,
    MirrorUsagePoint,
    Reading,
    ReadingType,
)
from openderms.protocols.ieee2030_5.schema.response import (
    EVENT_COMPLETED,
    EVENT_RECEIVED,
    EVENT_STARTED,
    DERControlResponse,
)
from openderms.sim.fleet.behaviour import Behaviour, output_w, reactive_var

SEP = {"content-type": "application/sep+xml"}
WATTS = ReadingType(uom=38, kind=37, data_qualifier=2, flow_direction=1, power_of_ten_multiplier=0)
VARS = ReadingType(uom=63, kind=37, data_qualifier=2, flow_direction=1, power_of_ten_multiplier=0)
#: the W it could export uncontrolled now (PV: what the sun gives; storage: its schedule)
AVAILABLE_W = ReadingType(
    uom=38, kind=37, data_qualifier=8, flow_direction=1, power_of_ten_multiplier=0
)
AVAILABLE = "Wavail"  # its MirrorMeterReading's description
Available = Callable[[float], float]


class CommunicationLostError(Exception):
    """The device is offline (simulated loss of communication)."""


def _xml(doc: MirrorUsagePoint | MirrorMeterReadingList | DERControlResponse) -> bytes:
    out = doc.to_xml(skip_empty=True, exclude_none=True)
    assert isinstance(out, bytes)
    return out


@dataclass
class Program:
    href: str
    primacy: int
    controls_href: str | None
    default_href: str | None
    controls: list[DERControl] = field(default_factory=list)
    default: DERControlBase | None = None


@dataclass
class AgentStats:
    requests: int = 0
    errors: int = 0
    latencies_s: list[float] = field(default_factory=list)


class DerAgent:
    """A simulated inverter of ``rated_w`` whose PV could make ``available(t)`` W.
    ``p_min_w`` < 0: a storage or EV charger inverter (``available`` is then its schedule,
    see ``behaviour.output_w``); ``report_available``: its telemetry also carries the W it
    could export uncontrolled (a third MirrorMeterReading, ``AVAILABLE``);
    ``default_every``: read the DefaultDERControls at every n-th poll only (they change
    rarely; each program's costs a request)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        lfdi: str,
        *,
        rated_w: float,
        available: Available,
        behaviour: Behaviour | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        limit: asyncio.Semaphore | None = None,
        p_min_w: float = 0.0,
        report_available: bool = False,
        default_every: int = 1,
    ) -> None:
        self.http, self.lfdi = http, lfdi.lower()
        self.rated_w, self.available = rated_w, available
        self.p_min_w, self.report_available = p_min_w, report_available
        self.default_every, self._polls = max(default_every, 1), 0
        self.behaviour = behaviour or Behaviour()
        self.rng = rng or random.Random(lfdi)
        self.clock, self.limit = clock, limit
        self.stats = AgentStats()
        self.edev_href: str | None = None
        self.programs: list[Program] = []
        self.mup_href: str | None = None
        self.poll_rate_s, self.post_rate_s = 900, 30
        self.offline_until = 0.0
        #: the control in force (None: free running) and the mRID it came from
        self.applied: DERControlBase | None = None
        self.applied_mrid: str | None = None
        self._seen: dict[str, float] = {}  # mRID -> when received
        self._ignored: set[str] = set()
        self._started: set[str] = set()
        self._completed: set[str] = set()
        self.last_output_w = 0.0

    # --- transport -------------------------------------------------------------------
    def go_offline(self, seconds: float) -> None:
        self.offline_until = self.clock() + seconds

    @property
    def online(self) -> bool:
        return self.clock() >= self.offline_until

    async def _request(self, method: str, url: str, **kw: object) -> httpx.Response:
        if not self.online:
            raise CommunicationLostError(url)
        if self.behaviour.comm_loss_p and self.rng.random() < self.behaviour.comm_loss_p:
            self.go_offline(self.behaviour.comm_loss_s)
            raise CommunicationLostError(url)
        t0 = time.perf_counter()
        try:
            if self.limit is not None:
                async with self.limit:
                    r = await self.http.request(method, url, **kw)  # type: ignore[arg-type]
            else:
                r = await self.http.request(method, url, **kw)  # type: ignore[arg-type]
        except httpx.HTTPError:
            self.stats.errors += 1
            raise
        self.stats.requests += 1
        self.stats.latencies_s.append(time.perf_counter() - t0)
        if r.status_code >= 400:
            self.stats.errors += 1
            r.raise_for_status()
        return r

    async def _get(self, url: str) -> bytes:
        return (await self._request("GET", url, params={"l": 255})).content

    # --- discovery -------------------------------------------------------------------
    async def discover(self, edev: EndDevice | None = None) -> None:
        """dcap -> edev (the one of our LFDI) -> fsa -> derp; then the first poll."""
        dcap = DeviceCapability.from_xml(await self._get("/dcap"))
        self.poll_rate_s = dcap.poll_rate or self.poll_rate_s
        if edev is None:
            assert dcap.end_device_list_link is not None
            edevs = EndDeviceList.from_xml(await self._get(dcap.end_device_list_link.href))
            edev = next(e for e in edevs.items if (e.lfdi or "").lower() == self.lfdi)
        self.edev_href = edev.href
        self.post_rate_s = edev.post_rate or self.post_rate_s
        self.programs = []
        if edev.function_set_assignments_list_link is not None:
            fsas = FunctionSetAssignmentsList.from_xml(
                await self._get(edev.function_set_assignments_list_link.href)
            )
            for fsa in fsas.items:
                if fsa.der_program_list_link is None:
                    continue
                progs = DERProgramList.from_xml(await self._get(fsa.der_program_list_link.href))
                for p in progs.items:
                    self.programs.append(
                        Program(
                            href=p.href or "",
                            primacy=p.primacy,
                            controls_href=p.der_control_list_link.href
                            if p.der_control_list_link
                            else None,
                            default_href=p.default_der_control_link.href
                            if p.default_der_control_link
                            else None,
                        )
                    )
        self.programs.sort(key=lambda p: p.primacy)
        await self.poll()

    async def register_telemetry(self, mup_list_href: str = "/mup") -> None:
        """Create the MirrorUsagePoint with W and var MirrorMeterReadings."""
        readings = [
            MirrorMeterReading(mrid=self._mrid(1), description="W", reading_type=WATTS),
            MirrorMeterReading(mrid=self._mrid(2), description="var", reading_type=VARS),
        ]
        if self.report_available:
            readings.append(
                MirrorMeterReading(
                    mrid=self._mrid(3), description=AVAILABLE, reading_type=AVAILABLE_W
                )
            )
        mup = MirrorUsagePoint(
            mrid=self._mrid(0),
            description="DER",
            role_flags="0049",  # isMirror | isDER | isSubmeter
            service_category_kind=0,
            status=1,
            device_lfdi=self.lfdi.upper(),
            readings=readings,
            post_rate=self.post_rate_s,
        )
        r = await self._request("POST", mup_list_href, content=_xml(mup), headers=SEP)
        self.mup_href = r.headers["location"]

    def _mrid(self, n: int) -> str:
        return f"{self.lfdi[:28].upper()}{n:04X}"

    # --- polling and control ---------------------------------------------------------
    async def poll(self) -> None:
        """Read each program's DERControls (scheduled and active) and, every
        ``default_every`` polls, its DefaultDERControl."""
        read_defaults = self._polls % self.default_every == 0
        self._polls += 1
        for p in self.programs:
            if p.controls_href is not None:
                got = DERControlList.from_xml(await self._get(p.controls_href))
                p.controls = [
                    c
                    for c in got.items
                    if c.event_status is None
                    or c.event_status.current_status in (SCHEDULED, ACTIVE)
                ]
            if p.default_href is not None and read_defaults:
                try:
                    raw = await self._request("GET", p.default_href)
                    p.default = DefaultDERControl.from_xml(raw.content).der_control_base
                except httpx.HTTPStatusError:
                    p.default = None
        for c in self._known():
            if c.mrid not in self._seen:
                self._seen[c.mrid] = self.clock()
                if self.rng.random() < self.behaviour.ignore_p:
                    self._ignored.add(c.mrid)
                await self._respond(c, EVENT_RECEIVED)

    def _known(self) -> list[DERControl]:
        return [c for p in self.programs for c in p.controls]

    def in_force(self, now: float) -> tuple[DERControl | None, DERControlBase | None]:
        """The event that applies at ``now`` (programs by primacy, events the device knows,
        also while offline), else the first program's DefaultDERControl."""
        for p in self.programs:
            for c in p.controls:
                start = c.interval.start
                if start <= now < start + c.interval.duration and c.mrid not in self._ignored:
                    return c, c.der_control_base
        for p in self.programs:
            if p.default is not None:
                return None, p.default
        return None, None

    async def step(self) -> None:
        """Apply what is in force (after the device's delay) and report started/completed."""
        now = self.clock()
        event, base = self.in_force(now)
        if event is not None and now - self._seen.get(event.mrid, now) < self.behaviour.delay_s:
            return  # not applied yet: keep what was in force
        if self.applied_mrid is not None and self.applied_mrid != (event.mrid if event else None):
            ended = self.applied_mrid
            self.applied_mrid = None
            if ended not in self._completed:
                self._completed.add(ended)
                ctl = next((c for c in self._known() if c.mrid == ended), None)
                if ctl is not None:
                    await self._respond(ctl, EVENT_COMPLETED)
        self.applied = base
        if event is not None and self.applied_mrid != event.mrid:
            self.applied_mrid = event.mrid
            if event.mrid not in self._started:
                self._started.add(event.mrid)
                await self._respond(event, EVENT_STARTED)

    async def _respond(self, c: DERControl, status: int) -> None:
        if not c.reply_to or c.response_required in (None, "00"):
            return
        doc = DERControlResponse(
            created_date_time=int(self.clock()),
            end_device_lfdi=self.lfdi.upper(),
            status=status,
            subject=c.mrid,
        )
        # a lost response is not resent (as many devices do)
        with contextlib.suppress(CommunicationLostError, httpx.HTTPError):
            await self._request("POST", c.reply_to, content=_xml(doc), headers=SEP)

    # --- telemetry -------------------------------------------------------------------
    def output(self) -> tuple[float, float]:
        """(W, var) now, from the PV availability and the control applied."""
        now = self.clock()
        w = output_w(
            self.available(now), self.rated_w, self.applied, self.behaviour.delivery, self.p_min_w
        )
        self.last_output_w = w
        return w, reactive_var(self.rated_w, self.applied)

    async def post_telemetry(self) -> None:
        assert self.mup_href is not None
        w, var = self.output()
        period = DateTimeInterval(duration=self.post_rate_s, start=int(self.clock()))
        values = [w, var]
        if self.report_available:
            free = output_w(self.available(self.clock()), self.rated_w, None, 1.0, self.p_min_w)
            values.append(free)
        items = [
            MirrorMeterReading(
                mrid=self._mrid(n), reading=Reading(value=round(v), time_period=period)
            )
            for n, v in enumerate(values, start=1)
        ]
        doc = MirrorMeterReadingList(all=len(items), results=len(items), items=items)
        await self._request("POST", self.mup_href, content=_xml(doc), headers=SEP)

    # --- the loop --------------------------------------------------------------------
    async def run(self, stop: asyncio.Event, *, tick_s: float = 1.0) -> None:
        """Poll every pollRate, post every postRate, step every ``tick_s`` until ``stop``.
        A lost cycle (offline, error) is skipped and retried at the next one."""
        now = self.clock()
        next_poll = now + self.poll_rate_s
        next_post = now + self.rng.uniform(0, self.post_rate_s)
        while not stop.is_set():
            now = self.clock()
            try:
                if now >= next_poll:
                    next_poll = now + self.poll_rate_s
                    await self.poll()
                await self.step()
                if now >= next_post:
                    next_post += self.post_rate_s
                    await self.post_telemetry()
            except (CommunicationLostError, httpx.HTTPError):
                pass
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), tick_s)
