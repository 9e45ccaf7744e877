"""Persistence adapters: the registry's SQL store (SQLAlchemy 2 + Alembic; SQLite by default,
PostgreSQL by configuration) and the network model file store (``network_files``).

Start with ``open_store(url) -> Store``; its ``ders`` implements
``openderms.registry.ports.DerRepository`` and its ``tokens`` issues and resolves API tokens.
The names below load on first use, so that ``network_files`` alone never imports SQLAlchemy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openderms.store.der_repository import SqlDerRepository
    from openderms.store.schema import migrate
    from openderms.store.sql import Store, open_store
    from openderms.store.token_repository import SqlTokenRepository

__all__ = ["SqlDerRepository", "SqlTokenRepository", "Store", "migrate", "open_store"]


def _home(name: str) -> str:
    match name:
        case "SqlDerRepository":
            return "openderms.store.der_repository"
        case "SqlTokenRepository":
            return "openderms.store.token_repository"
        case "migrate":
            return "openderms.store.schema"
        case "Store" | "open_store":
            return "openderms.store.sql"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __getattr__(name: str) -> Any:
    return getattr(import_module(_home(name)), name)
