"""Engines for the store's two backends: SQLite (the embedded default) and PostgreSQL.

``postgresql://`` URLs are driven by psycopg 3 (``postgresql+psycopg://``). SQLite runs in WAL
mode with foreign keys on and real transactions: pysqlite's own transaction handling is turned
off and every SQLAlchemy transaction emits ``BEGIN`` (``BEGIN IMMEDIATE`` through ``writer``),
so the reads of one transaction see one snapshot and migrations are transactional, as on
PostgreSQL.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url

SQLITE_BUSY_TIMEOUT_MS = 10_000  # how long a writer waits for another writer's lock
SQLITE_BEGIN = "openderms_sqlite_begin"  # execution option: DEFERRED (default) or IMMEDIATE


def dumps_json(value: object) -> str:
    """JSON as the store writes it: compact, and NaN or infinity refused (PostgreSQL's
    ``json`` refuses them too, so both backends take the same documents)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def normalise_url(url: str | URL) -> URL:
    """The URL with its driver made explicit (``postgresql`` and ``postgres`` -> psycopg 3)."""
    u = make_url(url)
    if u.drivername in {"postgresql", "postgres"}:
        u = u.set(drivername="postgresql+psycopg")
    return u


def sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL (None for in-memory or other backends)."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def create_store_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for ``url`` set up for the store (a SQLite file's folder is created)."""
    u = normalise_url(url)
    kwargs.setdefault("json_serializer", dumps_json)
    if u.get_backend_name() == "sqlite":
        path = sqlite_file(u)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(u, **kwargs)
        _configure_sqlite(engine, wal=path is not None)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(u, **kwargs)


def _configure_sqlite(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy says BEGIN itself (below)
        cur = dbapi_connection.cursor()
        try:
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if wal:
                cur.execute("PRAGMA journal_mode = WAL")
                cur.execute("PRAGMA synchronous = NORMAL")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def writer(engine: Engine) -> Engine:
    """``engine`` for write transactions: on SQLite they take the write lock at ``BEGIN``
    (``BEGIN IMMEDIATE``), so a transaction that reads first never fails to upgrade its lock
    (other writers wait up to the busy timeout instead); elsewhere ``engine`` unchanged."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
