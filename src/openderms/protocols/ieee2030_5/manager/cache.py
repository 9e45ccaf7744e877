"""In-memory read caches of one server process, so that a poll is served without a database
round trip: the controls of each program, and the programs each client may see.

Every write that could change an answer invalidates it (``invalidate_*``). A reader fills the
cache only if no invalidation happened while it was reading (a generation counter), so a slow
read can never store an answer older than the write that invalidated it. One process only:
replicas will invalidate each other over the bus (a later issue).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class CacheMiss(Exception):  # noqa: N818 (a signal, not an error)
    """Raised by ``only_cached`` loaders: the answer needs the database."""


def only_cached(key: object) -> object:
    """A loader that never loads: lets a caller try the cache alone (on the event loop) and
    go to a worker thread for the database only on a miss."""
    raise CacheMiss


class ReadCache(Generic[K, V]):
    """A dict filled on demand by ``load`` and emptied by ``invalidate``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[K, V] = {}
        self._generation = 0

    def get(self, key: K, load: Callable[[K], V]) -> V:
        with self._lock:
            if key in self._values:
                return self._values[key]
            generation = self._generation
        value = load(key)
        with self._lock:
            if generation == self._generation:
                self._values[key] = value
        return value

    def invalidate(self, key: K | None = None) -> None:
        """Forget ``key`` (or everything when None)."""
        with self._lock:
            self._generation += 1
            if key is None:
                self._values.clear()
            else:
                self._values.pop(key, None)
