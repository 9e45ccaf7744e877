"""Open the SQL store: one engine, migrated to the newest schema, and its repositories.

    store = open_store(settings.resolved_database_url())
    store.ders.add_many(records)
    actor = store.tokens.resolve(token)
    store.close()

``sqlite:///path.db`` (the embedded default; its folder is created) or
``postgresql+psycopg://user@host:port/db`` (``postgresql://`` means psycopg 3 too). Opening
runs the migrations, which is idempotent: a store opened twice, or by several processes at
once, ends at the same schema with its data kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any

from sqlalchemy import URL, Engine

from openderms.store.der_repository import SqlDerRepository
from openderms.store.engine import create_store_engine
from openderms.store.schema import migrate
from openderms.store.token_repository import SqlTokenRepository


@dataclass(frozen=True, slots=True)
class Store:
    """The repositories of one database; ``close`` (or ``with``) releases its connections."""

    engine: Engine
    ders: SqlDerRepository
    tokens: SqlTokenRepository

    @property
    def url(self) -> URL:
        return self.engine.url

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_store(url: str | URL, **engine_options: Any) -> Store:
    """Connect to ``url``, migrate it to the newest schema and return its repositories.
    ``engine_options`` go to ``sqlalchemy.create_engine`` (pool size, echo...)."""
    engine = create_store_engine(url, **engine_options)
    try:
        migrate(engine)
    except BaseException:
        engine.dispose()
        raise
    return Store(engine=engine, ders=SqlDerRepository(engine), tokens=SqlTokenRepository(engine))
