"""The live stack in one asyncio process on the embedded default: SQLite in the workspace,
the in-process bus, the 2030.5 server over CSIP TLS and the REST API on 127.0.0.1, the twin's
DER registered and mapped to EndDevices and DERPrograms, the simulated fleet as real 2030.5
clients, the plant (true AC power flow, SCADA on the bus) and the control loop delivering
through 2030.5.

    async with LiveStack.start(twin, LiveOptions(workspace=Path(".openderms"))) as stack:
        stack.status()                        # what the screen shows
        await stack.switch("TIE_F1_F2", True)  # as the REST endpoint does

``live.json`` in the workspace tells ``openderms grid switch --live`` where the REST API is
and holds an operator token (mode 0600); it is removed when the stack stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import shutil
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from openderms.bus import MessageBus, open_bus
from openderms.bus import subjects as sub
from openderms.config import Settings
from openderms.grid.topology import derive_topology
from openderms.protocols.ieee2030_5.app import create_2030_5_app
from openderms.protocols.ieee2030_5.services import Ieee2030_5Services, build_services, utc_now
from openderms.protocols.ieee2030_5.serving.server import TlsFiles, tls_config
from openderms.registry.domain import DerRecord
from openderms.registry.memory import SystemClock as RegistryClock
from openderms.registry.ports import Actor
from openderms.registry.service import RegistryService
from openderms.services.control_loop import (
    AuditEntry,
    AuditLog,
    ControlLoop,
    ControlLoopRunner,
    GridState,
    LoopConfig,
    SystemClock,
)
from openderms.services.control_loop.failsafe import DefaultPolicy
from openderms.services.control_loop.ieee2030_5 import Ieee2030_5Delivery
from openderms.services.control_loop.ieee2030_5_responses import Ieee2030_5Responses
from openderms.services.der_2030_5 import Ieee2030_5Mapping, managed_identity, map_ders
from openderms.services.live import fleet as live_fleet
from openderms.services.live.client import LIVE_FILE
from openderms.services.live.pki import LivePki, make_pki
from openderms.services.live.plant import Plant, PlantState
from openderms.services.live.servers import serve
from openderms.services.live.telemetry import LoopTelemetryPublisher
from openderms.sim.fleet.agent import DerAgent
from openderms.sim.fleet.behaviour import Behaviour
from openderms.sim.fleet.fleet import discover_all, end_devices, tls_client
from openderms.sim.twin import Twin
from openderms.store import Store, open_store
from openderms.web.app import create_app
from openderms.web.auth import InMemoryTokenRepository
from openderms.web.wiring import LoggingPublisher

PEN = 12345
#: DER sharing one TLS client (connection pool) of their aggregator's certificate, and its
#: connections: httpcore's pool costs grow with queued requests times connections
DER_PER_CLIENT = 10
CONNECTIONS_PER_CLIENT = 2
KEEPALIVE_S = 60


@dataclass(frozen=True, slots=True)
class LiveOptions:
    """``sep_port``/``api_port`` 0: any free port. ``poll_s``/``post_s``: the 2030.5 poll and
    telemetry rates given to the DER; ``loop_period_s``: control loop step; ``hold_s``: how
    long a cleared constraint stays clear before its controls end; ``realistic``: device
    habits (delays, partial delivery, ignoring) or prompt devices."""

    workspace: Path
    substation_id: str = "sub1"
    sep_port: int = 0
    api_port: int = 0
    aggregators: int = 3
    direct: int = 3
    poll_s: int = 10
    post_s: int = 10
    loop_period_s: float = 2.0
    plant_period_s: float = 2.0
    measurements_every_s: float = 10.0
    hold_s: float = 30.0
    realistic: bool = True
    seed: int = 0


@dataclass
class LiveStack:
    twin: Twin
    options: LiveOptions
    store: Store
    bus: MessageBus
    services: Ieee2030_5Services
    mapping: Ieee2030_5Mapping
    pki: LivePki
    loop: ControlLoop
    runner: ControlLoopRunner
    plant: Plant
    agents: dict[str, DerAgent]
    sun: live_fleet.Sun
    telemetry: LoopTelemetryPublisher
    sep_url: str = ""
    api_url: str = ""
    operator_token: str = ""
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    events: list[AuditEntry] = field(default_factory=list)
    latest: PlantState | None = None
    first: PlantState | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, twin: Twin, options: LiveOptions) -> AsyncIterator[LiveStack]:
        """Start everything (module docstring); stop it all on exit."""
        # httpcore looks for ``sniffio`` on every request; it is not installed, and the failed
        # import's path search cost a sixth of the process's CPU (bench/ieee2030_5_load.py)
        sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]
        live_dir = options.workspace / "live"
        shutil.rmtree(live_dir, ignore_errors=True)
        live_dir.mkdir(parents=True)
        net, topo = twin.network, derive_topology(twin.network)
        now = datetime.now(UTC)
        records = live_fleet.twin_records(
            net, topo, aggregators=options.aggregators, direct=options.direct, now=now
        )
        by_client = live_fleet.ders_by_client(records)
        pki = make_pki(live_dir / "pki", list(by_client))
        store = open_store(f"sqlite:///{(live_dir / 'live.db').as_posix()}")
        bus = await open_bus("memory://")
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(store.close)
            stack.push_async_callback(bus.close)
            store.ders.add_many(records)
            telemetry = LoopTelemetryPublisher(bus, options.substation_id, options.post_s)
            services = dataclasses.replace(
                build_services(store.engine, pen=PEN), telemetry_bus=telemetry
            )
            stack.callback(services.close)
            services.server.set_poll_rate(options.poll_s)
            services.server.set_post_rate(options.post_s)
            aggs = {n: pki.identities[n] for n in live_fleet.aggregator_names(options.aggregators)}
            own = {d: pki.identities[d] for d in live_fleet.direct_ders(net, options.direct)}
            mapping = map_ders(services, records, own, aggs)
            sep = await serve(
                tls_config(
                    create_2030_5_app(services),
                    TlsFiles(pki.server.cert, pki.server.key, pki.ca),
                    host="127.0.0.1",
                    port=options.sep_port,
                    log_level="warning",
                    timeout_graceful_shutdown=3,
                    timeout_keep_alive=KEEPALIVE_S,
                ),
                stack,
            )
            events: list[AuditEntry] = []
            loop = _control_loop(twin, records, services, mapping, options, events)
            runner = ControlLoopRunner(bus, loop, SystemClock(), period_s=options.loop_period_s)
            sun = live_fleet.Sun()
            clients, client_of = _clients(sep, pki, by_client, stack)
            lfdi_of = {d: (own[d] if d in own else managed_identity(d)).lfdi for d in client_of}
            agents = live_fleet.make_agents(
                net, client_of, lfdi_of, sun, realistic=options.realistic, seed=options.seed
            )
            plant = Plant(net, agents, bus, options.substation_id)
            live = cls(
                twin, options, store, bus, services, mapping, pki, loop, runner, plant,
                agents, sun, telemetry, sep_url=f"https://127.0.0.1:{sep}", events=events,
            )  # fmt: skip
            await live._start_api(stack)
            await runner.start()
            stack.push_async_callback(runner.stop)
            await plant.start()
            stack.push_async_callback(plant.stop)
            await live._discover(clients, by_client)
            stop = asyncio.Event()
            tasks = [
                asyncio.create_task(runner.run(stop)),
                asyncio.create_task(live._plant_loop(stop)),
                *(asyncio.create_task(a.run(stop, tick_s=1.0)) for a in agents.values()),
            ]

            async def halt() -> None:
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)

            stack.push_async_callback(halt)
            stack.callback(live._remove_live_file)
            live._write_live_file()
            yield live

    # -- what the screen shows ------------------------------------------------------------
    def actionable(self, state: PlantState | None = None) -> list[str]:
        """Keys of the true violations DER can act on (not left to the operator)."""
        s = state or self.latest
        if s is None:
            return []
        return [v.key for v in s.violations if v.key not in self.loop.outside_control]

    def solve_now(self) -> PlantState:
        """A fresh true AC power flow (also kept as ``latest``)."""
        self.latest = self.plant.solve()
        return self.latest

    async def switch(self, switch_id: str, closed: bool) -> None:
        """Report a switch state on the bus, as SCADA would (what the REST endpoint calls)."""
        states = {switch_id: "closed" if closed else "open"}
        await self.bus.publish(sub.switch_states(self.options.substation_id), {"states": states})

    # -- internals ------------------------------------------------------------------------
    async def _start_api(self, stack: contextlib.AsyncExitStack) -> None:
        from openderms.services.live.switching import LiveSwitching

        tokens = InMemoryTokenRepository()
        self.operator_token = tokens.create(Actor(id="operator", role="operator"))
        settings = Settings(workspace=self.options.workspace)
        registry = RegistryService(
            self.twin.network, self.store.ders, LoggingPublisher(), RegistryClock(),
            injections=self.twin.injections,
        )  # fmt: skip
        app = create_app(settings, service=registry, tokens=tokens)
        app.state.live_switching = LiveSwitching(self)
        import uvicorn

        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.options.api_port,
            lifespan="off",
            access_log=False,
            log_level="warning",
            timeout_graceful_shutdown=3,
        )
        port = await serve(config, stack)
        self.api_url = f"http://127.0.0.1:{port}"

    async def _discover(
        self, clients: dict[str, httpx.AsyncClient], by_client: dict[str, list[str]]
    ) -> None:
        """Every agent discovers its EndDevice and programs and registers its telemetry,
        its habits (loss of communication) set aside until it is connected."""
        for name, ders in by_client.items():
            agents = [self.agents[d] for d in ders]
            habits = [a.behaviour for a in agents]
            for a in agents:
                a.behaviour = Behaviour()
            known = None
            if agents[0].lfdi != self.pki.identities[name].lfdi:
                devices = await end_devices(agents[0].http)
                known = {(e.lfdi or "").lower(): e for e in devices}
            await discover_all(agents, known, concurrency=16)
            for a, b in zip(agents, habits, strict=True):
                a.behaviour = b

    async def _plant_loop(self, stop: asyncio.Event) -> None:
        last_published = 0.0
        clock = asyncio.get_running_loop().time
        while not stop.is_set():
            with contextlib.suppress(Exception):  # a bad order must not stop the field
                await self.plant.run_orders(datetime.now(UTC))
            state = self.solve_now()
            if self.first is None:
                self.first = state
            if clock() - last_published >= self.options.measurements_every_s:
                last_published = clock()
                with contextlib.suppress(Exception):
                    await self.plant.publish_measurements(state)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.options.plant_period_s)

    def _write_live_file(self) -> None:
        path = self.options.workspace / LIVE_FILE
        body = {
            "api_url": self.api_url,
            "sep_url": self.sep_url,
            "token": self.operator_token,
            "substation_id": self.options.substation_id,
            "pid": os.getpid(),
            "switches": sorted(self.plant.switches),
        }
        path.touch(mode=0o600)
        path.write_text(json.dumps(body, indent=2), encoding="utf-8")

    def _remove_live_file(self) -> None:
        (self.options.workspace / LIVE_FILE).unlink(missing_ok=True)


def _clients(
    port: int, pki: LivePki, by_client: dict[str, list[str]], stack: contextlib.AsyncExitStack
) -> tuple[dict[str, httpx.AsyncClient], dict[str, httpx.AsyncClient]]:
    """TLS clients per certificate (``DER_PER_CLIENT`` DER share one connection pool, as an
    aggregator's gateways would); returns (certificate name -> its first client, DER id ->
    its client)."""
    first: dict[str, httpx.AsyncClient] = {}
    client_of: dict[str, httpx.AsyncClient] = {}
    for name, ders in by_client.items():
        paths = pki.clients[name]
        for i in range(0, len(ders), DER_PER_CLIENT):
            http = tls_client(
                f"https://127.0.0.1:{port}", paths.cert, paths.key, pki.ca,
                connections=CONNECTIONS_PER_CLIENT, keepalive_s=KEEPALIVE_S,
            )  # fmt: skip
            stack.push_async_callback(http.aclose)
            first.setdefault(name, http)
            client_of.update(dict.fromkeys(ders[i : i + DER_PER_CLIENT], http))
    return first, client_of


def _control_loop(  # noqa: PLR0917 (the parts of the stack it wires)
    twin: Twin,
    records: list[DerRecord],
    services: Ieee2030_5Services,
    mapping: Ieee2030_5Mapping,
    options: LiveOptions,
    events: list[AuditEntry],
) -> ControlLoop:
    aggregator_of = {r.id: r.registration.aggregator_id or "-" for r in records}
    state = GridState(twin.network, aggregator_of)
    responses = Ieee2030_5Responses(services.responses, utc_now)
    delivery = Ieee2030_5Delivery(
        services.programs, mapping.end_device_of, pen=PEN, responses=responses
    )
    config = LoopConfig(
        substation_id=options.substation_id,
        hold_s=options.hold_s,
        control_duration_s=900.0,
        comply_within_s=max(3.0 * options.post_s, 30.0),
        silence_factor=6.0,  # a busy single process may post late: silent after 6 periods
        # The fleet's DefaultDERControls are the server's standing default (energised, no
        # limit), applied by CSIP devices whenever no event is active: no fallback cap.
        default_policy=DefaultPolicy.NO_CAP,
    )
    return ControlLoop(state, delivery, responses, config, AuditLog(sink=events.append))
