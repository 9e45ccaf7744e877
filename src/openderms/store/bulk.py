"""Bulk inserts: ``COPY ... FROM STDIN`` on PostgreSQL (psycopg 3), executemany batches
elsewhere. Both run inside the caller's transaction, so a failed batch leaves nothing behind.

COPY skips SQLAlchemy's type processing, so rows must already hold what the columns take:
``der_rows`` refuses naive datetimes before anything is written, and JSON documents are
encoded here with the engine's own encoder (``engine.dumps_json``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from itertools import islice
from typing import Any, TypeVar

import psycopg
from sqlalchemy import JSON, Connection, Table, insert
from sqlalchemy.exc import DBAPIError

from openderms.store.engine import dumps_json

#: rows per executemany batch (bounded memory on big imports)
BATCH_ROWS = 500

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = BATCH_ROWS) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (dicts keyed by column name, every one with the same keys) into
    ``table`` on ``conn``'s open transaction."""
    if not rows:
        return
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        _copy(conn, table, rows)
        return
    for chunk in chunks(rows):
        conn.execute(insert(table), chunk)


def _copy(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    driver = conn.connection.driver_connection
    if not isinstance(driver, psycopg.Connection):
        raise TypeError(f"COPY needs a psycopg 3 connection, not {type(driver).__name__}")
    columns = list(rows[0])
    json_columns = {name for name in columns if isinstance(table.c[name].type, JSON)}
    quote = conn.dialect.identifier_preparer
    names = ", ".join(quote.quote(name) for name in columns)
    sql = f"COPY {quote.format_table(table)} ({names}) FROM STDIN"
    try:
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(
                    [
                        dumps_json(row[c]) if c in json_columns and row[c] is not None else row[c]
                        for c in columns
                    ]
                )
    except psycopg.Error as exc:  # the same exceptions as SQLAlchemy raises for an INSERT
        raise DBAPIError.instance(sql, None, exc, psycopg.Error, dialect=conn.dialect) from exc
