"""Many simulated DER in one asyncio process: CSIP TLS clients (one per device certificate,
or one per aggregator shared by its EndDevices), PV availability from 15-min profiles, and
a bound on the requests in flight.

Powers in W, generator convention (positive = export to the grid).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import numpy as np
import numpy.typing as npt

from openderms.grid.powerflow import InjectionSeries
from openderms.protocols.ieee2030_5.schema.dcap import DeviceCapability
from openderms.protocols.ieee2030_5.schema.edev import EndDevice, EndDeviceList
from openderms.protocols.ieee2030_5.security.tls import client_context
from openderms.sim.fleet.agent import DerAgent

STEP_S = 900


@dataclass(frozen=True, slots=True)
class ProfileAvailability:
    """PV availability (W) of one DER per 15-min step from ``start_s`` (epoch seconds), e.g.
    one DER column of the twin's design-day injections; the day repeats."""

    start_s: float
    pv_w: npt.NDArray[np.float64]

    def __call__(self, t_s: float) -> float:
        step = int((t_s - self.start_s) // STEP_S) % len(self.pv_w)
        return float(self.pv_w[step])


def twin_availability(
    timestamps: Sequence[datetime], injections: InjectionSeries
) -> list[ProfileAvailability]:
    """Each twin DER's availability (W, export positive; consumption read as 0) from the
    design day's DER injections (``sim.twin.design_day(twin)``), in ``net.ders`` order: what
    the server then sees is what the twin's power flow sees."""
    start_s = timestamps[0].timestamp()
    p_w = np.clip(injections.der_p_kw, 0.0, None) * 1000.0
    return [ProfileAvailability(start_s, p_w[:, j].copy()) for j in range(p_w.shape[1])]


def tls_client(
    base_url: str,
    cert: Path,
    key: Path,
    server_ca: Path,
    *,
    connections: int = 4,
    keepalive_s: float = 5.0,
) -> httpx.AsyncClient:
    """An async 2030.5 client over CSIP TLS holding ``cert``'s identity; idle connections
    are kept ``keepalive_s`` seconds (a device polling more often keeps its connection)."""
    ctx: ssl.SSLContext = client_context(cert, key, server_ca)
    return httpx.AsyncClient(
        base_url=base_url,
        verify=ctx,
        timeout=30,
        limits=httpx.Limits(
            max_connections=connections,
            max_keepalive_connections=connections,
            keepalive_expiry=keepalive_s,
        ),
    )


async def end_devices(http: httpx.AsyncClient) -> list[EndDevice]:
    """Every EndDevice a certificate may see (an aggregator's whole fleet), page by page."""
    dcap = DeviceCapability.from_xml((await http.get("/dcap")).content)
    assert dcap.end_device_list_link is not None
    href, out, start = dcap.end_device_list_link.href, [], 0
    while True:
        page = EndDeviceList.from_xml((await http.get(href, params={"s": start, "l": 255})).content)
        out.extend(page.items)
        start += len(page.items)
        if not page.items or start >= (page.all or 0):
            return out


async def discover_all(
    agents: Sequence[DerAgent], known: dict[str, EndDevice] | None = None, *, concurrency: int = 64
) -> None:
    """Discover and register telemetry for every agent, ``concurrency`` at a time. ``known``
    (LFDI -> EndDevice, e.g. from ``end_devices``) spares each agent the EndDevice list."""
    gate = asyncio.Semaphore(concurrency)

    async def one(a: DerAgent) -> None:
        async with gate:
            await a.discover((known or {}).get(a.lfdi))
            await a.register_telemetry()

    await asyncio.gather(*(one(a) for a in agents))


async def run_fleet(agents: Sequence[DerAgent], duration_s: float, *, tick_s: float = 1.0) -> None:
    """Run every agent's loop for ``duration_s`` seconds."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(a.run(stop, tick_s=tick_s)) for a in agents]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), duration_s)
    stop.set()
    await asyncio.gather(*tasks)
