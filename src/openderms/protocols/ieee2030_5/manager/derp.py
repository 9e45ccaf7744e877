"""DER programs and their controls: what a client may read, served from memory, and the
internal API that the rest of openderms uses to control DER.

    mrid = derp.create_control(
        program_id=p.id, start=t0, duration_s=900,
        controls=DERControlBase(op_mod_max_lim_w=5000),   # 50.00 % of rated W
    )

Event status (clause 12.1.3) is computed at read time: Scheduled before the interval, Active
inside it, unless the control was cancelled or superseded. A new control supersedes the
program's controls whose intervals overlap its own (same devices, same primacy: the newer
wins); ``randomize_start_s`` / ``randomize_duration_s`` are passed to clients as given.
Lists hold the controls whose interval has not ended, ordered by start, then creation time
descending (clause 12.1.2).

Every program serves and links a DefaultDERControl (what DER do when no control is active):
the one an operator set (``set_default_control``), else the standing default
``standing_default(program)``: normal operation, energised (``opModEnergize`` true) with no
limit, its mRID derived from the program's so that it is stable across restarts.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime

from openderms.errors import NotFoundError, ValidationError, ValidationIssue
from openderms.protocols.ieee2030_5.domain import (
    FINAL_STATUSES,
    Client,
    DerControl,
    DerCurveRecord,
    DerProgram,
)
from openderms.protocols.ieee2030_5.manager.cache import ReadCache, only_cached
from openderms.protocols.ieee2030_5.manager.edev import EndDeviceManager
from openderms.protocols.ieee2030_5.manager.fsa import FsaManager, new_mrid
from openderms.protocols.ieee2030_5.repository.derp import DerProgramRepository
from openderms.protocols.ieee2030_5.repository.edev import EndDeviceRepository
from openderms.protocols.ieee2030_5.schema.derp import (
    ACTIVE,
    CANCELLED,
    SCHEDULED,
    DefaultDERControl,
    DERControlBase,
    DERCurve,
)

logger = logging.getLogger(__name__)
Clock = Callable[[], datetime]
#: the primacy of the program made for one EndDevice's own controls
DEVICE_PROGRAM_PRIMACY = 1


class DerProgramManager:
    def __init__(
        self,
        repo: DerProgramRepository,
        end_device_repo: EndDeviceRepository,
        end_devices: EndDeviceManager,
        fsas: FsaManager,
        *,
        clock: Clock,
        pen: int,
    ) -> None:
        self._repo = repo
        self._end_device_repo = end_device_repo
        self._end_devices = end_devices
        self._fsas = fsas
        self._clock = clock
        self._pen = pen
        self._visible: ReadCache[tuple[str, bool], tuple[DerProgram, ...]] = ReadCache()
        self._controls: ReadCache[int, tuple[DerControl, ...]] = ReadCache()
        #: called with a program id after its controls changed (created, cancelled)
        self.on_controls_changed: list[Callable[[int], None]] = []
        #: called with a program id after its DefaultDERControl was set
        self.on_default_changed: list[Callable[[int], None]] = []
        end_devices.on_access_change.append(self._visible.invalidate)

    # -- reads (served from memory) -------------------------------------------------------

    def programs(self, client: Client, *, cached_only: bool = False) -> tuple[DerProgram, ...]:
        """Every program in an FSA of an EndDevice the client may see (primacy order).
        ``cached_only`` (here and below): raise ``CacheMiss`` rather than read the database."""
        load = only_cached if cached_only else self._load_visible
        key = (client.lfdi, client.kind == "aggregator")
        return self._visible.get(key, load)  # type: ignore[arg-type]

    def program(self, client: Client, program_id: int, *, cached_only: bool = False) -> DerProgram:
        for program in self.programs(client, cached_only=cached_only):
            if program.id == program_id:
                return program
        raise NotFoundError("DERProgram", str(program_id))

    def programs_of_fsa(self, client: Client, end_device_id: int, fsa_id: int) -> list[DerProgram]:
        self._fsas.get(client, end_device_id, fsa_id)
        return [p for p in self.programs(client) if p.fsa_id == fsa_id]

    def controls(
        self, client: Client, program_id: int, *, cached_only: bool = False
    ) -> list[DerControl]:
        """The program's controls that have not ended."""
        self.program(client, program_id, cached_only=cached_only)
        load = only_cached if cached_only else self._load_controls
        now = self._clock()
        return [c for c in self._controls.get(program_id, load) if c.end() > now]  # type: ignore[arg-type]

    def active_controls(
        self, client: Client, program_id: int, *, cached_only: bool = False
    ) -> list[DerControl]:
        now = self._clock()
        controls = self.controls(client, program_id, cached_only=cached_only)
        return [c for c in controls if c.current_status(now) == ACTIVE]

    def control(self, client: Client, program_id: int, control_id: int) -> DerControl:
        self.program(client, program_id)
        for c in self._controls.get(program_id, self._load_controls):
            if c.id == control_id:
                return c
        raise NotFoundError("DERControl", str(control_id))

    def default_control(self, client: Client, program_id: int) -> DefaultDERControl:
        """The program's DefaultDERControl: the one set, else the standing default."""
        program = self.program(client, program_id)
        return program.default_control or standing_default(program)

    def program_default(self, program_id: int) -> DefaultDERControl:
        """Internal API: the DefaultDERControl a program serves (``NotFoundError``)."""
        program = self._repo.get(program_id)
        if program is None:
            raise NotFoundError("DERProgram", str(program_id))
        return program.default_control or standing_default(program)

    def curves(self, client: Client, program_id: int) -> list[DerCurveRecord]:
        self.program(client, program_id)
        return self._repo.curves_of(program_id)

    def curve(self, client: Client, program_id: int, curve_id: int) -> DerCurveRecord:
        for curve in self.curves(client, program_id):
            if curve.id == curve_id:
                return curve
        raise NotFoundError("DERCurve", str(curve_id))

    def now(self) -> datetime:
        return self._clock()

    def new_mrid(self) -> str:
        """Internal API: a fresh mRID ending with the server's PEN (for a DefaultDERControl
        made outside, before ``set_default_control``)."""
        return new_mrid(self._pen)

    # -- internal API ---------------------------------------------------------------------

    def ensure_program(self, fsa_id: int, description: str, primacy: int) -> DerProgram:
        """The program of ``fsa_id`` named ``description`` (created when missing)."""
        found = self._repo.by_description(fsa_id, description)
        if found is not None:
            return found
        program = self._repo.add(new_mrid(self._pen), fsa_id, description, primacy)
        self._end_devices.on_access_change_fire()  # the program lists changed
        return program

    def device_program(self, end_device_id: int) -> DerProgram:
        """The program (in an FSA of its own) that carries one EndDevice's own controls."""
        name = f"edev-{end_device_id}"
        fsa = self._fsas.ensure(name)
        self._fsas.assign(end_device_id, fsa.id)
        return self.ensure_program(fsa.id, name, DEVICE_PROGRAM_PRIMACY)

    def create_control(
        self,
        *,
        start: datetime,
        duration_s: int,
        controls: DERControlBase,
        program_id: int | None = None,
        end_device_id: int | None = None,
        description: str = "",
        randomize_start_s: int | None = None,
        randomize_duration_s: int | None = None,
    ) -> str:
        """Create a DERControl for a program, or for one EndDevice (through its own
        program); returns its mRID. ``start`` is aware UTC; nothing is written when an
        argument is refused (``ValidationError``, ``NotFoundError``)."""
        issues = []
        if (program_id is None) == (end_device_id is None):
            issues.append(_issue("target", (program_id, end_device_id), "program or device"))
        if start.tzinfo is None:
            issues.append(_issue("start", start.isoformat(), "a timezone-aware datetime"))
        if not 0 < duration_s <= 0xFFFFFFFF:
            issues.append(_issue("duration_s", duration_s, "1 .. 4294967295 seconds"))
        if not controls.model_dump(exclude_none=True):
            issues.append(_issue("controls", "(empty)", "at least one control"))
        if len(description) > 32:
            issues.append(_issue("description", description, "at most 32 characters"))
        if issues:
            raise ValidationError(issues)
        if end_device_id is not None:
            if self._end_device_repo.get(end_device_id) is None:
                raise NotFoundError("EndDevice", str(end_device_id))
            program_id = self.device_program(end_device_id).id
        assert program_id is not None
        if self._repo.get(program_id) is None:
            raise NotFoundError("DERProgram", str(program_id))
        now = self._clock()
        control = DerControl(
            id=0,
            mrid=new_mrid(self._pen),
            program_id=program_id,
            description=description,
            creation_time=now,
            start=start,
            duration_s=duration_s,
            status=SCHEDULED,
            status_time=now,
            controls=controls,
            randomize_start_s=randomize_start_s,
            randomize_duration_s=randomize_duration_s,
        )
        stored = self._repo.add_control(control, self._superseded_by(control))
        self._changed(program_id)
        return stored.mrid

    def _superseded_by(self, new: DerControl) -> list[int]:
        """The program's controls ``new`` supersedes (clause 10.2.3, event rules): those not
        cancelled or superseded already, not ended, whose interval overlaps ``new``'s. All
        controls of a program go to the same devices with the same primacy, so the newer
        one wins for the whole overlapping device set; a device's own controls live in its
        own program and never supersede another device's."""
        return [
            c.id
            for c in self._repo.controls_of(new.program_id)
            if c.status not in FINAL_STATUSES
            and c.end() > new.creation_time
            and c.start < new.end()
            and new.start < c.end()
        ]

    def cancel_control(self, mrid: str) -> None:
        """Cancel a control (its status becomes Cancelled)."""
        control = self._repo.control_by_mrid(mrid)
        if control is None:
            raise NotFoundError("DERControl", mrid)
        self._repo.set_control_status(control.id, CANCELLED, self._clock())
        self._changed(control.program_id)

    def set_default_control(self, program_id: int, default: DefaultDERControl) -> None:
        """Set the program's DefaultDERControl (what DER do when no control is active)."""
        if self._repo.get(program_id) is None:
            raise NotFoundError("DERProgram", str(program_id))
        self._repo.set_default(program_id, default)
        self._visible.invalidate()
        self._notify(self.on_default_changed, program_id)

    def add_curve(self, program_id: int, curve: DERCurve) -> DerCurveRecord:
        if self._repo.get(program_id) is None:
            raise NotFoundError("DERProgram", str(program_id))
        return self._repo.add_curve(program_id, curve)

    def program_controls(self, program_id: int, *, include_ended: bool = False) -> list[DerControl]:
        """Internal API: the program's controls that have not ended (or all), list order."""
        now = self._clock()
        found = self._controls.get(program_id, self._load_controls)
        return [c for c in found if include_ended or c.end() > now]

    # -- helpers --------------------------------------------------------------------------

    def _changed(self, program_id: int) -> None:
        self._controls.invalidate(program_id)
        self._notify(self.on_controls_changed, program_id)

    @staticmethod
    def _notify(listeners: list[Callable[[int], None]], program_id: int) -> None:
        for listener in listeners:
            try:
                listener(program_id)
            except Exception:  # a listener never undoes the change
                logger.exception("change listener failed for program %d", program_id)

    def _load_controls(self, program_id: int) -> tuple[DerControl, ...]:
        return tuple(self._repo.controls_of(program_id))

    def _load_visible(self, key: tuple[str, bool]) -> tuple[DerProgram, ...]:
        lfdi, aggregator = key
        return tuple(self._repo.visible_to(lfdi, aggregator))


def standing_default(program: DerProgram) -> DefaultDERControl:
    """The DefaultDERControl of a program no operator gave one: normal operation (energised,
    no limit). Its mRID keeps the program's PEN (last 8 hex digits) after 96 bits derived
    from the program's mRID, so it is the same on every read and across restarts."""
    derived = hashlib.sha256(f"dderc:{program.mrid}".encode()).hexdigest()[:24].upper()
    return DefaultDERControl(
        mrid=derived + program.mrid[-8:],
        description="standing default",
        version=0,
        der_control_base=DERControlBase(op_mod_energize=True),
    )


def _issue(field: str, value: object, expected: str) -> ValidationIssue:
    return ValidationIssue("DERControl", "(new)", field, value, expected)
