"""Metering mirrors (clause 10.7): clients create MirrorUsagePoints for their EndDevices and
post MirrorMeterReadings with their readings; the server keeps them as telemetry.

Readings go to the ``TelemetryWriter`` (batched, acknowledged once durable); once committed,
the newest value of each MirrorMeterReading is kept in memory for the control loop:

    latest = services.metering.latest_of_der("der-000042")   # {mmr mRID: LatestReading}
    w = next(r.value for r in latest.values() if r.uom == 38)

A request that is refused (malformed, another client's device, an mRID of someone else's
usage point) changes nothing: every check runs before the first write.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from openderms.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
    ValidationIssue,
)
from openderms.protocols.ieee2030_5.domain import (
    Client,
    EndDevice,
    LatestReading,
    MirrorMeterReadingRecord,
    MirrorUsagePointRecord,
)
from openderms.protocols.ieee2030_5.manager.cache import CacheMiss, ReadCache, only_cached
from openderms.protocols.ieee2030_5.manager.telemetry import TelemetryWriter
from openderms.protocols.ieee2030_5.repository.edev import EndDeviceRepository
from openderms.protocols.ieee2030_5.repository.metering import MeteringRepository
from openderms.protocols.ieee2030_5.schema.metering import (
    MirrorMeterReading,
    MirrorUsagePoint,
    Reading,
)

Clock = Callable[[], datetime]
_Point = tuple[MirrorUsagePointRecord, EndDevice, tuple[MirrorMeterReadingRecord, ...]]


@dataclass(frozen=True, slots=True)
class Posted:
    """What a POST did: the usage point, whether it was created, a MirrorMeterReading it
    created (for the Location), and the readings once ``durable`` resolves."""

    mup: MirrorUsagePointRecord
    end_device: EndDevice
    created: bool
    new_mmr: MirrorMeterReadingRecord | None
    durable: Future[None]
    readings: tuple[LatestReading, ...]


class MeteringManager:
    def __init__(
        self,
        repo: MeteringRepository,
        end_device_repo: EndDeviceRepository,
        clock: Clock,
        *,
        max_queue: int = 10_000,
    ) -> None:
        self._repo = repo
        self._end_devices = end_device_repo
        self._clock = clock
        self._writer = TelemetryWriter(repo.append_readings, max_queue=max_queue)
        self._lock = threading.Lock()
        # newest readings as tuples of plain values (``_kept``), which the garbage collector
        # stops tracking: replaced every postRate, they would otherwise feed its full
        # collections (each a pause of every request) at 10,000 devices
        self._latest: dict[int, dict[str, _Kept]] = {}
        self._device_of_der: dict[str, int] = {}
        self._points: ReadCache[int, _Point | None] = ReadCache()

    # -- reads by clients -----------------------------------------------------------------

    def mups(self, client: Client) -> list[tuple[MirrorUsagePointRecord, str]]:
        """The usage points of the EndDevices the client may see, with their LFDIs."""
        return self._repo.mups_for(client.lfdi, client.kind == "aggregator")

    def mup(
        self, client: Client, mup_id: int, *, cached_only: bool = False
    ) -> tuple[MirrorUsagePointRecord, EndDevice, list[MirrorMeterReadingRecord]]:
        """The usage point, its EndDevice and MirrorMeterReadings, from memory once read (a
        telemetry POST reads no table; ``cached_only``: raise ``CacheMiss`` rather than read
        the database)."""
        load = only_cached if cached_only else self._load_point
        found = self._points.get(mup_id, load)  # type: ignore[arg-type]
        if found is None or not found[1].visible_to(client):
            raise NotFoundError("MirrorUsagePoint", str(mup_id))
        mup, device, readings = found
        return mup, device, list(readings)

    def invalidate(self) -> None:
        """Forget the usage points read (EndDevices or their aggregators changed)."""
        self._points.invalidate()

    def _load_point(self, mup_id: int) -> _Point | None:
        found = self._repo.point(mup_id)
        device = self._end_devices.get(found[0].end_device_id) if found is not None else None
        if found is None or device is None:
            return None
        return found[0], device, tuple(found[1])

    def mmr(self, client: Client, mup_id: int, mmr_id: int) -> MirrorMeterReadingRecord:
        for mmr in self.mup(client, mup_id)[2]:
            if mmr.id == mmr_id:
                return mmr
        raise NotFoundError("MirrorMeterReading", str(mmr_id))

    # -- writes by clients ----------------------------------------------------------------

    def post_mup(self, client: Client, posted: MirrorUsagePoint) -> Posted:
        """Create the usage point, or update the one with the same mRID; then take the
        MirrorMeterReadings it carries."""
        device = self._end_devices.by_lfdi(posted.device_lfdi.lower())
        if device is None or not device.visible_to(client):
            raise PermissionDeniedError(f"deviceLFDI {posted.device_lfdi} is not the client's")
        existing = self._repo.mup_by_mrid(posted.mrid.upper())
        if existing is not None and existing.end_device_id != device.id:
            raise ConflictError(f"MirrorUsagePoint {posted.mrid} belongs to another device")
        plan = self._check_readings(existing.id if existing else None, posted.readings)
        values = {
            "mrid": posted.mrid.upper(),
            "end_device_id": device.id,
            "description": posted.description or "",
            "role_flags": posted.role_flags,
            "service_category_kind": posted.service_category_kind,
            "status": posted.status,
            "post_rate_s": posted.post_rate,
            "changed_time": self._clock(),
        }
        mup = self._repo.save_mup(values, existing.id if existing else None)
        self._points.invalidate(mup.id)
        return self._take(mup, device, existing is None, posted.readings, plan)

    def post_readings(
        self,
        client: Client,
        mup_id: int,
        posted: Sequence[MirrorMeterReading],
        *,
        cached_only: bool = False,
    ) -> Posted:
        """Take MirrorMeterReadings posted to a usage point (new ones need a ReadingType).
        ``cached_only``: raise ``CacheMiss``, having changed nothing, unless the readings
        are of MirrorMeterReadings in memory that they leave unchanged (then no table is
        read or written before the telemetry writer's batch: safe on the event loop)."""
        mup, device, known = self.mup(client, mup_id, cached_only=cached_only)
        by_mrid = {m.mrid: m for m in known}
        if cached_only and any(_changes(m, by_mrid.get(m.mrid.upper())) for m in posted):
            raise CacheMiss
        plan = self._check_readings(mup.id, posted, by_mrid)
        return self._take(mup, device, False, posted, plan)

    def _check_readings(
        self,
        mup_id: int | None,
        posted: Sequence[MirrorMeterReading],
        known: Mapping[str, MirrorMeterReadingRecord] | None = None,
    ) -> list[MirrorMeterReadingRecord | None]:
        """The stored record of each posted reading (None: new), after checking them all
        (``known``: the usage point's MirrorMeterReadings by mRID, when already read)."""
        plan: list[MirrorMeterReadingRecord | None] = []
        issues = []
        for mmr in posted:
            mrid = mmr.mrid.upper()
            found = (known or {}).get(mrid) or self._repo.mmr_by_mrid(mrid)
            if found is not None and found.mup_id != mup_id:
                raise ConflictError(f"MirrorMeterReading {mmr.mrid} belongs to another point")
            if found is None and mmr.reading_type is None:
                issues.append(_issue(mmr.mrid, "ReadingType", None, "a ReadingType when new"))
            for reading, _ in _readings(mmr):
                if reading.value is None:
                    issues.append(_issue(mmr.mrid, "Reading.value", None, "a value"))
            plan.append(found)
        if issues:
            raise ValidationError(issues)
        return plan

    def _take(
        self,
        mup: MirrorUsagePointRecord,
        device: EndDevice,
        created: bool,
        posted: Sequence[MirrorMeterReading],
        plan: Sequence[MirrorMeterReadingRecord | None],
    ) -> Posted:
        now = self._clock()
        rows: list[dict[str, Any]] = []
        latest: dict[str, LatestReading] = {}
        new_mmr = None
        for mmr, found in zip(posted, plan, strict=True):
            reading_type, description = _wanted(mmr, found)
            record = found
            if _changes(mmr, found):  # readings alone (telemetry) write nothing here
                values = {
                    "mrid": mmr.mrid.upper(),
                    "mup_id": mup.id,
                    "description": description,
                    "reading_type": reading_type,
                    "changed_time": now,
                }
                record = self._repo.save_mmr(values, found.id if found else None)
                self._points.invalidate(mup.id)
                new_mmr = record if found is None else new_mmr
            assert record is not None
            power_of_ten = int(reading_type.get("power_of_ten_multiplier") or 0)
            uom = reading_type.get("uom")
            for item in _readings(mmr):
                row = _row(record, device.id, (power_of_ten, uom), item, mmr.last_update_time, now)
                rows.append(row)
                candidate = LatestReading(
                    device.id,
                    record.mrid,
                    record.description,
                    row["reading_time"],
                    row["value"],
                    row["power_of_ten"],
                    row["uom"],
                )
                old = latest.get(record.mrid)
                if old is None or old.reading_time <= candidate.reading_time:
                    latest[record.mrid] = candidate
        durable = self._writer.submit(rows)
        readings = tuple(latest.values())
        durable.add_done_callback(lambda f: self._remember(f, device, readings))
        return Posted(mup, device, created, new_mmr, durable, readings)

    # -- internal API ---------------------------------------------------------------------

    def latest(self, end_device_id: int) -> dict[str, LatestReading]:
        """The newest durable value of each MirrorMeterReading of the EndDevice, by mRID."""
        with self._lock:
            kept = dict(self._latest.get(end_device_id, {}))
        return {mrid: LatestReading(*values) for mrid, values in kept.items()}

    def latest_of_der(self, der_id: str) -> dict[str, LatestReading]:
        """``latest`` of the EndDevice mapped to registry DER ``der_id`` ({} if none)."""
        with self._lock:
            end_device_id = self._device_of_der.get(der_id)
        return {} if end_device_id is None else self.latest(end_device_id)

    def close(self) -> None:
        """Write the telemetry still queued and stop the writer."""
        self._writer.close()

    def _remember(
        self, done: Future[None], device: EndDevice, readings: tuple[LatestReading, ...]
    ) -> None:
        if done.exception() is not None:
            return
        with self._lock:
            mine = self._latest.setdefault(device.id, {})
            for reading in readings:
                old = mine.get(reading.mmr_mrid)
                if old is None or old[3] <= reading.reading_time:  # [3]: reading_time
                    mine[reading.mmr_mrid] = _kept(reading)
            if device.der_id is not None:
                self._device_of_der[device.der_id] = device.id


_Kept = tuple[int, str, str, datetime, int, int, int | None]


def _kept(r: LatestReading) -> _Kept:
    """``r`` as a tuple of its fields, in their order."""
    return (
        r.end_device_id,
        r.mmr_mrid,
        r.description,
        r.reading_time,
        r.raw,
        r.power_of_ten,
        r.uom,
    )


def _wanted(
    mmr: MirrorMeterReading, found: MirrorMeterReadingRecord | None
) -> tuple[dict[str, Any], str]:
    """The ReadingType (as stored) and description the MirrorMeterReading should have."""
    reading_type = (
        mmr.reading_type.model_dump(mode="json", exclude={"href"}, exclude_none=True)
        if mmr.reading_type is not None
        else (found.reading_type if found else {})
    )
    return reading_type, mmr.description or (found.description if found else "")


def _changes(mmr: MirrorMeterReading, found: MirrorMeterReadingRecord | None) -> bool:
    """Whether taking ``mmr`` writes its MirrorMeterReading (new, or another ReadingType or
    description)."""
    return found is None or (found.reading_type, found.description) != _wanted(mmr, found)


def _readings(mmr: MirrorMeterReading) -> list[tuple[Reading, int | None]]:
    """Each reading with the start of its set's period (if in a set)."""
    out: list[tuple[Reading, int | None]] = [
        (r, s.time_period.start) for s in mmr.reading_sets for r in s.readings
    ]
    if mmr.reading is not None:
        out.append((mmr.reading, None))
    return out


def _row(  # noqa: PLR0917 (one row from six sources)
    record: MirrorMeterReadingRecord,
    end_device_id: int,
    kind: tuple[int, int | None],
    item: tuple[Reading, int | None],
    last_update_time: int | None,
    now: datetime,
) -> dict[str, Any]:
    """The ``sep_reading`` row of a reading (``kind``: the power of ten and uom of its
    ReadingType): its time is its own period's start, else its
    set's, else the MirrorMeterReading's lastUpdateTime, else when it was received."""
    reading, set_start = item
    t: int | None = reading.time_period.start if reading.time_period is not None else None
    if t is None:
        t = set_start if set_start is not None else last_update_time
    return {
        "mmr_id": record.id,
        "end_device_id": end_device_id,
        "reading_time": datetime.fromtimestamp(t, UTC) if t is not None else now,
        "value": reading.value,
        "power_of_ten": kind[0],
        "uom": kind[1],
        "quality_flags": reading.quality_flags,
        "received_at": now,
    }


def _issue(mrid: str, field: str, value: object, expected: str) -> ValidationIssue:
    return ValidationIssue("MirrorMeterReading", mrid, field, value, expected)
