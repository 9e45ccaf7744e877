"""Fixtures of the web tests: the app over the real registry service on the ``small`` twin,
with in-memory ports (or the SQL store), and a token per role."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from openderms.config import Settings
from openderms.registry.aggregators import AggregatorRepository, InMemoryAggregatorRepository
from openderms.registry.memory import InMemoryDerRepository, RecordingPublisher, SystemClock
from openderms.registry.ports import Actor, DerRepository
from openderms.registry.service import RegistryService
from openderms.sim.twin import Twin, build_twin
from openderms.store import Store
from openderms.store.aggregator_repository import SqlAggregatorRepository
from openderms.web.app import create_app
from openderms.web.auth import InMemoryTokenRepository, TokenRepository
from tests.web.server import serve_in_thread

ACTORS = {
    "acme": Actor(id="acme", role="installer"),
    "bolt": Actor(id="bolt", role="installer"),
    "agg": Actor(id="agg", role="aggregator", aggregator_id="agg"),
    "ops": Actor(id="ops", role="operator"),
}


#: the store fixtures of tests/conftest.py, by backend
STORE_FIXTURES = {"sqlite": "sqlite_store", "postgresql": "pg_store"}


@pytest.fixture(scope="session")
def twin() -> Twin:
    return build_twin("small")


@dataclass
class Web:
    """The app under test served by uvicorn on loopback, a client of it and a bearer header
    per actor name."""

    app: FastAPI
    client: httpx.Client
    tokens: dict[str, str]
    service: RegistryService

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def make_web(
    twin: Twin,
    repo: DerRepository,
    tokens: TokenRepository,
    workspace: Path,
    aggregators: AggregatorRepository | None = None,
) -> Iterator[Web]:
    service = RegistryService(
        twin.network,
        repo,
        RecordingPublisher(),
        SystemClock(),
        injections=twin.injections,
        aggregators=aggregators if aggregators is not None else InMemoryAggregatorRepository(),
    )
    issued = {name: tokens.create(actor) for name, actor in ACTORS.items()}
    app = create_app(Settings(workspace=workspace), service=service, tokens=tokens)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield Web(app, client, issued, service)


@pytest.fixture
def web(twin: Twin, tmp_path: Path) -> Iterator[Web]:
    """The app over in-memory ports."""
    yield from make_web(twin, InMemoryDerRepository(), InMemoryTokenRepository(), tmp_path)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def any_web(request: pytest.FixtureRequest, twin: Twin, tmp_path: Path) -> Iterator[Web]:
    """The app over each store: in-memory ports, SQLite, a real PostgreSQL."""
    if request.param == "memory":
        yield from make_web(twin, InMemoryDerRepository(), InMemoryTokenRepository(), tmp_path)
        return
    store: Store = request.getfixturevalue(STORE_FIXTURES[request.param])
    aggs = SqlAggregatorRepository(store.engine)
    yield from make_web(twin, store.ders, store.tokens, tmp_path, aggs)


@pytest.fixture(scope="session")
def service_points(twin: Twin) -> list[str]:
    """Service point ids of the twin (one per customer load)."""
    return [ld.id for ld in twin.network.loads]


@pytest.fixture
def registration(service_points: list[str]) -> Callable[..., dict[str, Any]]:
    """A valid registration body; keyword arguments override top-level fields."""

    def make(
        application_id: str = "APP-1", kw: float = 5.0, sp: int = 0, **over: Any
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "der_type": "pv",
            "nameplate": {"p_export_kw": kw, "s_kva": max(kw, 1.0) * 1.1},
            "inverter": {"make": "SunCo", "model": "S-7", "certifications": ["UL1741SB"]},
            "location": {"service_point_id": service_points[sp]},
            "owner_name": "Ada Owner",
            "owner_email": "ada@example.org",
            "application_id": application_id,
        }
        body.update(over)
        return body

    return make
