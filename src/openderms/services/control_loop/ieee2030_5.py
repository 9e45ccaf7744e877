"""``ControlDelivery`` through the IEEE 2030.5 server's internal API (in process).

Each control becomes a DERControl: for one EndDevice (``create_control(end_device_id=...)``,
through the device's own program) or for a whole program (an aggregator's topology node:
``create_control(program_id=...)``), from ``start`` for ``expiry - start`` seconds. Set points
map to CSIP controls: ``p_max_kw`` -> ``opModMaxLimW`` (hundredths of a percent of the DER's
rated W), ``p_kw`` -> ``opModTargetW``, ``q_kvar`` -> ``opModTargetVar`` (W and var with a
power-of-ten multiplier). All in generator convention (positive = export / injected vars),
as 2030.5 is. The handle's ``ref`` is the DERControl mRID; ``cancel`` cancels it and
``set_default`` sets the DefaultDERControl of the device's program. A CSIP device applies
its DefaultDERControl whenever no event is active, not only after losing contact, so what the
default carries is chosen per program (``failsafe.DefaultPolicy``): for CSIP programs use
``NO_CAP`` (the default is 100 % of the rating: idle DER run free; a DER out of contact keeps
its last control until it expires); ``FALLBACK_CAP`` (the noon-safe cap) only where devices
apply the default when out of contact (CSIP-AUS style fallback, the simulated fleet).

Errors of the server (unknown device or program, a refused argument) are raised as
``DeliveryError``: the queue retries a bounded number of times, then records the failure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from openderms.errors import OpenDermsError
from openderms.protocols.ieee2030_5.manager.derp import DerProgramManager
from openderms.protocols.ieee2030_5.manager.fsa import new_mrid
from openderms.protocols.ieee2030_5.schema.derp import (
    ActivePower,
    DefaultDERControl,
    DERControlBase,
    ReactivePower,
)
from openderms.services.control_loop.ieee2030_5_responses import Ieee2030_5Responses
from openderms.services.control_loop.ports import (
    ControlRequest,
    DefaultControl,
    DeliveryError,
    DeliveryHandle,
)

_INT16_MAX = 32_767


def scaled(value: float) -> tuple[int, int]:
    """``(value, multiplier)`` with ``value * 10**multiplier`` ~ ``value`` in an Int16."""
    m = 0
    while abs(value) / 10**m > _INT16_MAX and m < 9:
        m += 1
    return round(value / 10**m), m


def percent_of(p_kw: float, rated_kw: float) -> int:
    """``p_kw`` as hundredths of a percent of ``rated_kw`` (0 .. 10,000)."""
    if rated_kw <= 0.0:
        return 0
    return max(0, min(10_000, math.floor(p_kw / rated_kw * 10_000)))


def control_base(r: ControlRequest) -> DERControlBase:
    """The CSIP controls of one request (see the module docstring)."""
    fields: dict[str, object] = {}
    if r.p_max_kw is not None:
        fields["op_mod_max_lim_w"] = percent_of(r.p_max_kw, r.rated_kw)
    if r.p_kw is not None:
        v, m = scaled(r.p_kw * 1000.0)
        fields["op_mod_target_w"] = ActivePower(value=v, multiplier=m)
    if r.q_kvar is not None:
        v, m = scaled(r.q_kvar * 1000.0)
        fields["op_mod_target_var"] = ReactivePower(value=v, multiplier=m)
    return DERControlBase.model_validate(fields)


class Ieee2030_5Delivery:  # noqa: N801 (the standard's name)
    """Controls as DERControls of the 2030.5 server. ``device_of`` maps DER ids to EndDevice
    ids; ``program_of`` maps ids of grouped resources (a topology node an aggregator serves)
    to DERProgram ids; ``pen``: the server's private enterprise number (for mRIDs);
    ``responses``: told of every control sent, so the loop hears the devices' Responses."""

    def __init__(
        self,
        programs: DerProgramManager,
        device_of: Mapping[str, int],
        program_of: Mapping[str, int] | None = None,
        *,
        pen: int = 0,
        responses: Ieee2030_5Responses | None = None,
    ) -> None:
        self._programs = programs
        self._responses = responses
        self._device_of = dict(device_of)
        self._program_of = dict(program_of or {})
        self._pen = pen

    def send(self, request: ControlRequest) -> DeliveryHandle:
        start = request.start.replace(microsecond=0)
        duration_s = max(1, math.ceil((request.expiry - start).total_seconds()))
        target = self._target(request.der_id)
        try:
            mrid = self._programs.create_control(
                start=start,
                duration_s=duration_s,
                controls=control_base(request),
                description=request.control_id[:32],
                **target,
            )
        except OpenDermsError as exc:
            raise DeliveryError(f"2030.5 refused {request.control_id}: {exc}") from exc
        handle = DeliveryHandle(request.control_id, request.der_id, mrid)
        if self._responses is not None:
            self._responses.watch(handle, request.expiry)
        return handle

    def cancel(self, handle: DeliveryHandle) -> None:
        try:
            self._programs.cancel_control(handle.ref)
        except OpenDermsError as exc:
            raise DeliveryError(f"2030.5 could not cancel {handle.ref}: {exc}") from exc

    def set_default(self, default: DefaultControl) -> None:
        target = self._target(default.der_id)
        try:
            if "program_id" in target:
                program_id = target["program_id"]
            else:
                program_id = self._programs.device_program(target["end_device_id"]).id
            base = DERControlBase(op_mod_max_lim_w=percent_of(default.p_max_kw, default.rated_kw))
            dderc = DefaultDERControl(
                mrid=new_mrid(self._pen), description="fallback cap", der_control_base=base
            )
            self._programs.set_default_control(program_id, dderc)
        except OpenDermsError as exc:
            raise DeliveryError(f"2030.5 default for {default.der_id}: {exc}") from exc

    def _target(self, der_id: str) -> dict[str, int]:
        if der_id in self._device_of:
            return {"end_device_id": self._device_of[der_id]}
        if der_id in self._program_of:
            return {"program_id": self._program_of[der_id]}
        raise DeliveryError(f"no EndDevice or DERProgram known for {der_id!r}")
