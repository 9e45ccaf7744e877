"""The 2030.5 server's managers wired on one store engine: what the app serves and the
internal API the rest of openderms calls (``services.programs.create_control(...)``)."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from openderms.bus.port import MessageBus
from openderms.protocols.ieee2030_5.manager.dcap import ServerManager
from openderms.protocols.ieee2030_5.manager.der import DerManager
from openderms.protocols.ieee2030_5.manager.derp import DerProgramManager
from openderms.protocols.ieee2030_5.manager.edev import EndDeviceManager
from openderms.protocols.ieee2030_5.manager.fsa import FsaManager
from openderms.protocols.ieee2030_5.manager.log import LogEventManager
from openderms.protocols.ieee2030_5.manager.metering import MeteringManager
from openderms.protocols.ieee2030_5.manager.pubsub import DeliveryPolicy, SubscriptionManager
from openderms.protocols.ieee2030_5.manager.response import ResponseManager
from openderms.protocols.ieee2030_5.manager.telemetry_bus import SubstationOf, TelemetryPublisher
from openderms.protocols.ieee2030_5.repository.der import DerRepository
from openderms.protocols.ieee2030_5.repository.derp import DerProgramRepository
from openderms.protocols.ieee2030_5.repository.edev import EndDeviceRepository
from openderms.protocols.ieee2030_5.repository.fsa import FsaRepository
from openderms.protocols.ieee2030_5.repository.log import LogEventRepository
from openderms.protocols.ieee2030_5.repository.metering import MeteringRepository
from openderms.protocols.ieee2030_5.repository.pubsub import PubSubRepository
from openderms.protocols.ieee2030_5.repository.response import ResponseRepository
from openderms.protocols.ieee2030_5.repository.settings import SettingsRepository

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Ieee2030_5Services:  # noqa: N801 (the standard's name)
    server: ServerManager
    end_devices: EndDeviceManager
    fsas: FsaManager
    programs: DerProgramManager
    ders: DerManager
    metering: MeteringManager
    responses: ResponseManager
    log_events: LogEventManager
    subscriptions: SubscriptionManager
    #: publishes telemetry on the message bus; None: no bus
    telemetry_bus: TelemetryPublisher | None = None

    def close(self) -> None:
        """Write the telemetry still queued and stop background work."""
        self.subscriptions.close()
        self.metering.close()


def build_services(
    engine: Engine,
    *,
    pen: int = 0,
    clock: Clock = utc_now,
    bus: MessageBus | None = None,
    substation_of: SubstationOf | None = None,
    base_url: str | None = None,
    notify_tls: ssl.SSLContext | None = None,
    notify_policy: DeliveryPolicy | None = None,
) -> Ieee2030_5Services:
    """Managers on ``engine`` (a store engine, migrated). ``pen`` is the IANA private
    enterprise number that ends every mRID the server makes. ``bus``: where telemetry is
    also published (``telemetry.<substation>.<der>``; ``substation_of(der_id)`` names the
    substation, ``unassigned`` when it says None). ``base_url`` (e.g. https://host:port)
    makes Notification subscriptionURIs absolute (else learnt from the first Subscription
    POST); ``notify_tls`` is the context Notifications are POSTed with (default: system
    trust); ``notify_policy`` their retries. Notifications a previous run left pending are
    delivered again from here."""
    end_device_repo = EndDeviceRepository(engine)
    der_repo = DerRepository(engine)
    end_devices = EndDeviceManager(end_device_repo, der_repo, clock)
    fsas = FsaManager(FsaRepository(engine), end_devices, pen)
    program_repo = DerProgramRepository(engine)
    programs = DerProgramManager(
        program_repo, end_device_repo, end_devices, fsas, clock=clock, pen=pen
    )
    subscriptions = SubscriptionManager(
        PubSubRepository(engine),
        end_devices,
        programs,
        program_repo,
        clock,
        base_url=base_url,
        tls=notify_tls,
        policy=notify_policy,
    )
    server = ServerManager(SettingsRepository(engine), clock)
    subscriptions.watch_lists(end_device_repo, fsas, server)
    subscriptions.resume()
    metering = MeteringManager(MeteringRepository(engine), end_device_repo, clock)
    end_devices.on_access_change.append(metering.invalidate)
    return Ieee2030_5Services(
        server=server,
        end_devices=end_devices,
        fsas=fsas,
        programs=programs,
        ders=DerManager(der_repo, end_devices, clock),
        metering=metering,
        responses=ResponseManager(
            ResponseRepository(engine), end_device_repo, program_repo, clock, pen
        ),
        log_events=LogEventManager(LogEventRepository(engine), end_devices, clock),
        subscriptions=subscriptions,
        telemetry_bus=TelemetryPublisher(bus, substation_of) if bus is not None else None,
    )
