"""The DER repository under test, once per backend: in memory, SQLite file, PostgreSQL."""

from __future__ import annotations

import pytest

from openderms.registry.memory import InMemoryDerRepository
from openderms.registry.ports import DerRepository
from openderms.store import Store


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def der_repo(request: pytest.FixtureRequest) -> DerRepository:
    """Every implementation of the ``DerRepository`` port, empty."""
    if request.param == "memory":
        return InMemoryDerRepository()
    store: Store = request.getfixturevalue(
        f"{'pg' if request.param == 'postgresql' else 'sqlite'}_store"
    )
    return store.ders


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_store(request: pytest.FixtureRequest) -> Store:
    """Each SQL backend's store, empty."""
    store: Store = request.getfixturevalue(
        f"{'pg' if request.param == 'postgresql' else 'sqlite'}_store"
    )
    return store
