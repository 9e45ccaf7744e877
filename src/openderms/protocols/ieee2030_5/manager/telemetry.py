"""Telemetry written in batches, acknowledged only once durable (group commit).

A request hands its readings to ``TelemetryWriter.submit`` and waits for the returned future;
one background thread takes every batch waiting in the bounded queue, appends them all with
one multi-row INSERT in one transaction, and only then resolves their futures, so the client
gets its 2xx after the rows are committed. Many concurrent posts share one commit.

Durability: a reading acknowledged to a client is in the database (committed; on SQLite in WAL
mode with the store's synchronous setting). A crash loses only readings whose posts were not
yet acknowledged (still queued or in the transaction being written): their clients saw no 2xx
and post again. When the queue is full, ``submit`` refuses at once (``TelemetryBusyError``,
answered 503) rather than letting memory grow.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from openderms.errors import OpenDermsError

logger = logging.getLogger(__name__)
Rows = Sequence[Mapping[str, Any]]
Append = Callable[[Rows], None]
_STOP = object()


class TelemetryBusyError(OpenDermsError):
    """The telemetry queue is full: the client should post again later."""


class TelemetryWriter:
    """``append`` (one transaction per call) run by one thread on queued batches.
    ``max_queue``: batches waiting at most; ``max_rows``: rows written per transaction at
    most; ``linger_s``: how long the thread lets posts gather after the first one it finds
    waiting (fewer, larger transactions, and one wake-up of the thread per transaction
    rather than per post: the event loop that submits loses the GIL less often);
    ``on_durable``: called with each batch's rows once committed."""

    def __init__(
        self,
        append: Append,
        *,
        max_queue: int = 10_000,
        max_rows: int = 5_000,
        linger_s: float = 0.002,
        on_durable: Callable[[Rows], None] | None = None,
    ) -> None:
        self._append = append
        self._max_rows = max_rows
        self._linger_s = linger_s
        self._on_durable = on_durable
        self._queue: queue.Queue[tuple[Rows, Future[None]] | object] = queue.Queue(max_queue)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, rows: Rows) -> Future[None]:
        """Queue ``rows``; the future resolves once they are committed (or fails with the
        database's error)."""
        done: Future[None] = Future()
        if not rows:
            done.set_result(None)
            return done
        with self._lock:
            if self._closed:
                raise TelemetryBusyError("the telemetry writer is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sep-telemetry", daemon=True)
                self._thread.start()
        try:
            self._queue.put_nowait((rows, done))
        except queue.Full:
            raise TelemetryBusyError("telemetry queue full") from None
        return done

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued, then stop the thread."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout_s)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[tuple[Rows, Future[None]]] = []
            item = self._queue.get()
            if item is not _STOP and self._linger_s > 0:
                time.sleep(self._linger_s)
            size = 0
            while True:
                if item is _STOP:
                    stopping = True
                else:
                    assert isinstance(item, tuple)
                    batch.append(item)
                    size += len(item[0])
                if stopping or size >= self._max_rows:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._write(batch)

    def _write(self, batch: list[tuple[Rows, Future[None]]]) -> None:
        rows = [row for rows, _ in batch for row in rows]
        try:
            self._append(rows)
        except Exception as exc:  # every waiting post is told, none is acknowledged
            logger.exception("telemetry batch of %d rows not written", len(rows))
            for _, done in batch:
                done.set_exception(exc)
            return
        if self._on_durable is not None:
            try:
                self._on_durable(rows)
            except Exception:
                logger.exception("telemetry listener failed")
        for _, done in batch:
            done.set_result(None)
