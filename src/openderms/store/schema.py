"""Schema migrations, run from code: Alembic is configured here with the migration scripts
shipped inside the package, so an installed openderms migrates its database without an
``alembic.ini``.

``migrate`` is idempotent and safe to call from several processes at once: on PostgreSQL the
upgrade runs in one transaction under an advisory lock, on SQLite under the database's write
lock (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, Engine, text

from openderms.store.engine import create_store_engine, writer

SCRIPT_LOCATION = "openderms.store:migrations"
#: key of the PostgreSQL advisory lock that serialises concurrent migrations ("odms" in ASCII)
PG_MIGRATION_LOCK = 0x6F646D73


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration pointing at the packaged scripts (and at ``connection``)."""
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest revision the package ships."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("the packaged migrations have no head revision")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(target: str | URL | Engine, revision: str = "head") -> None:
    """Upgrade the database at ``target`` (a URL or an engine) to ``revision``."""
    if isinstance(target, Engine):
        _upgrade(target, revision)
        return
    engine = create_store_engine(target)
    try:
        _upgrade(engine, revision)
    finally:
        engine.dispose()


def _upgrade(engine: Engine, revision: str) -> None:
    with writer(engine).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})
        command.upgrade(alembic_config(conn), revision)
