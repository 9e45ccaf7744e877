"""Persistence adapters: the registry's SQL store (SQLAlchemy 2 + Alembic; SQLite by default,
PostgreSQL by configuration) and the network model file store (``network_files``).

Start with ``open_store(url) -> Store``; its ``ders`` implements
``openderms.registry.ports.DerRepository`` and its ``tokens`` ``TokenRepository``.
"""

from openderms.store.der_repository import SqlDerRepository
from openderms.store.migrate import migrate
from openderms.store.sql import Store, open_store
from openderms.store.token_repository import SqlTokenRepository

__all__ = ["SqlDerRepository", "SqlTokenRepository", "Store", "migrate", "open_store"]
