"""Alembic environment: runs on the connection that ``openderms.store.migrate`` hands over in
``config.attributes["connection"]`` (no alembic.ini, no logging set-up), or offline to SQL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from openderms.store.tables import Base


def _run() -> None:
    config = context.config
    if context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"),
            literal_binds=True,
            target_metadata=Base.metadata,
            render_as_batch=True,
        )
    else:
        connection = config.attributes.get("connection")
        if not isinstance(connection, Connection):
            raise RuntimeError("run migrations through openderms.store.migrate(), not the CLI")
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=True,  # SQLite alters a table by copying it
            compare_type=True,
        )
    with context.begin_transaction():
        context.run_migrations()


_run()
