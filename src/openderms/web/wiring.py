"""The default runtime of the registry: settings -> store, network model, registry service.

Shared by ``openderms serve`` (through ``create_app``) and the ``openderms der`` commands, so
both see the same database and the same network: the model imported into the workspace when
there is one, else the twin preset named by the settings.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from openderms.config import Settings
from openderms.grid.model import Network
from openderms.registry.memory import SystemClock
from openderms.registry.ports import EventPublisher
from openderms.registry.service import RegistryService
from openderms.store import SqlTokenRepository, Store, open_store
from openderms.store.aggregator_repository import SqlAggregatorRepository
from openderms.store.network_files import NetworkFileStore

log = logging.getLogger(__name__)


class LoggingPublisher:
    """Registry events to the log, until the message bus adapter takes them."""

    def publish(self, subject: str, payload: Mapping[str, Any]) -> None:
        log.debug("event %s: %s", subject, dict(payload))


@dataclass(frozen=True, slots=True)
class Runtime:
    store: Store
    network: Network
    service: RegistryService

    @property
    def tokens(self) -> SqlTokenRepository:
        return self.store.tokens


def load_network(settings: Settings) -> tuple[Network, Any]:
    """The workspace's imported model, else the settings' twin (with its injections)."""
    files = NetworkFileStore(settings.workspace)
    if files.exists():
        return files.load(), None
    from openderms.sim.twin import build_twin

    twin = build_twin(settings.network_preset, settings.network_seed)
    return twin.network, twin.injections


@contextmanager
def open_runtime(settings: Settings, events: EventPublisher | None = None) -> Iterator[Runtime]:
    """Open the store and build the service; the store is closed on exit. Registry events go
    to ``events`` (the message bus when serving), else to the log."""
    network, injections = load_network(settings)
    store = open_store(settings.resolved_database_url())
    try:
        service = RegistryService(
            network,
            store.ders,
            events or LoggingPublisher(),
            SystemClock(),
            injections=injections,
            aggregators=SqlAggregatorRepository(store.engine),
        )
        yield Runtime(store=store, network=network, service=service)
    finally:
        store.close()
