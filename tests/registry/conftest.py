"""Fixtures of the registry tests: the small twin, a service on in-memory ports, registrations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from openderms.registry.domain import Registration
from openderms.registry.memory import FixedClock, InMemoryDerRepository, RecordingPublisher
from openderms.registry.service import RegistryService
from openderms.sim.twin import Twin, build_twin

NOON = datetime(2025, 7, 17, 19, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def small() -> Twin:
    return build_twin("small", seed=0)


def registration(app: str, p_export_kw: float = 5.0, **over: Any) -> Registration:
    """A rooftop PV registration at ``location`` (default: bus ``F1_L03_01_LV``)."""
    data: dict[str, Any] = {
        "der_type": "pv",
        "nameplate": {"p_export_kw": p_export_kw, "s_kva": max(p_export_kw, 1.0)},
        "inverter": {"make": "SunMaker", "model": "SM-1", "certifications": ["UL1741SB"]},
        "location": {"bus_id": "F1_L03_01_LV"},
        "owner_name": "Pat Owner",
        "owner_email": "pat@example.org",
        "application_id": app,
    }
    data.update(over)
    return Registration.model_validate(data)


class Harness:
    """A service with its in-memory repository, event recorder and clock."""

    def __init__(self, twin: Twin, repo: InMemoryDerRepository | None = None) -> None:
        self.repo = repo or InMemoryDerRepository()
        self.events = RecordingPublisher()
        self.clock = FixedClock(NOON)
        self.service = RegistryService(
            twin.network, self.repo, self.events, self.clock, injections=twin.injections
        )

    def subjects(self) -> list[str]:
        return [s for s, _ in self.events.events]


@pytest.fixture
def make(small: Twin) -> Callable[..., Harness]:
    def build(repo: InMemoryDerRepository | None = None) -> Harness:
        return Harness(small, repo)

    return build


@pytest.fixture
def h(make: Callable[..., Harness]) -> Harness:
    return make()
