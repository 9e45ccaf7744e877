"""Shared fixtures: databases.

PostgreSQL is a real server (``OPENDERMS_TEST_PG_URL``, default
``postgresql+psycopg://postgres@127.0.0.1:5432/openderms_test``; ``make test`` starts it with
``scripts/ensure-postgres.sh``). Each test session gets a database of its own, created beside
that one and dropped at the end, so concurrent sessions never meet; each test gets empty tables.
A test that needs PostgreSQL fails (never skips) when the server cannot be reached.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import URL, Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from openderms.store import Store, open_store
from openderms.store.engine import normalise_url
from openderms.store.tables import Base

PG_URL_ENV = "OPENDERMS_TEST_PG_URL"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/openderms_test"


def _admin_engine(base: URL) -> Engine:
    """An autocommit connection to ``base``'s server, through its database or ``postgres``."""
    errors = []
    for database in dict.fromkeys([base.database, "postgres"]):
        engine = create_engine(base.set(database=database), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect():
                return engine
        except OperationalError as exc:
            engine.dispose()
            errors.append(f"{database}: {str(exc.orig).strip()}")
    pytest.fail(
        f"PostgreSQL at {base.render_as_string(hide_password=True)} cannot be reached "
        f"({'; '.join(errors)}). Start it with scripts/ensure-postgres.sh or set {PG_URL_ENV}.",
        pytrace=False,
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _drop_orphans(admin: Engine, prefix: str) -> None:
    """Drop the session databases of test runs that were killed before they could."""
    pattern = re.compile(rf"{re.escape(prefix)}_(\d+)_[0-9a-f]{{6}}")
    with admin.connect() as conn:
        names = conn.scalars(text("SELECT datname FROM pg_database")).all()
        for name in names:
            m = pattern.fullmatch(name)
            if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database for this test session."""
    base = normalise_url(os.environ.get(PG_URL_ENV, DEFAULT_PG_URL))
    prefix = base.database or "openderms_test"
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = _admin_engine(base)
    _drop_orphans(admin, prefix)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def pg_session_store(pg_url: str) -> Iterator[Store]:
    store = open_store(pg_url)
    yield store
    store.close()


@pytest.fixture
def pg_store(pg_session_store: Store) -> Store:
    """The session's PostgreSQL store with every table emptied."""
    tables = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))
    with pg_session_store.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return pg_session_store


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a SQLite file that does not exist yet (a folder that does not exist either)."""
    return f"sqlite:///{(tmp_path / 'ws' / 'openderms.db').as_posix()}"


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Store]:
    store = open_store(sqlite_url)
    yield store
    store.close()
