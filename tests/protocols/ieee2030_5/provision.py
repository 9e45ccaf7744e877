"""Set-up of the 2030.5 tests through the server's internal API (what the registry and the
control loop will call), never through the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from openderms.protocols.ieee2030_5.domain import DerProgram, EndDevice
from openderms.protocols.ieee2030_5.schema.derp import DERControlBase
from tests.protocols.ieee2030_5.conftest import Running

PIN = 111115  # the SunSpec test PIN


def end_device(running: Running, name: str, aggregator: str | None = None) -> EndDevice:
    """The EndDevice of client certificate ``name`` (managed by aggregator ``aggregator``)."""
    s = running.services
    agg_lfdi = None
    if aggregator is not None:
        agg = running.pki.identities[aggregator]
        s.end_devices.put_client(agg, "aggregator", aggregator)
        agg_lfdi = agg.lfdi
    return s.end_devices.ensure(running.pki.identities[name], agg_lfdi, pin=PIN)


def program(running: Running, devices: list[EndDevice], name: str, primacy: int = 2) -> DerProgram:
    """A program in an FSA named like it, handed to ``devices``."""
    s = running.services
    fsa = s.fsas.ensure(name)
    for device in devices:
        s.fsas.assign(device.id, fsa.id)
    return s.programs.ensure_program(fsa.id, name, primacy)


def control(
    running: Running,
    program_id: int,
    start_in_s: int = -60,
    duration_s: int = 900,
    controls: DERControlBase | None = None,
) -> str:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=start_in_s)
    return running.services.programs.create_control(
        program_id=program_id,
        start=start,
        duration_s=duration_s,
        controls=controls or DERControlBase(op_mod_max_lim_w=5000),
    )
