"""DeviceCapability and Time: the server's poll and post rates (settable at run time) and
clock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from openderms.errors import ValidationError, ValidationIssue
from openderms.protocols.ieee2030_5.domain import DEFAULT_POLL_RATE_S, DEFAULT_POST_RATE_S
from openderms.protocols.ieee2030_5.repository.settings import SettingsRepository

Clock = Callable[[], datetime]
POLL_RATE = "poll_rate_s"
POST_RATE = "post_rate_s"


class ServerManager:
    """Run-time settings, kept in the store and in memory."""

    def __init__(self, repo: SettingsRepository, clock: Clock) -> None:
        self._repo = repo
        self._clock = clock
        self._lock = threading.Lock()
        self._values = {POLL_RATE: DEFAULT_POLL_RATE_S, POST_RATE: DEFAULT_POST_RATE_S}
        self._values.update(repo.all())
        #: called after a setting changed (the documents carrying it changed)
        self.on_change: list[Callable[[], None]] = []

    @property
    def poll_rate_s(self) -> int:
        """Seconds between client polls of DeviceCapability and the lists."""
        return self._values[POLL_RATE]

    @property
    def post_rate_s(self) -> int:
        """Default seconds between telemetry posts."""
        return self._values[POST_RATE]

    def poll_rate_of(self, resource: str) -> int:
        """Seconds between client polls of one resource (its sep.xsd name, e.g.
        ``DeviceCapability``, ``EndDeviceList``): its own rate when set, else the server's."""
        return self._values.get(f"{POLL_RATE}.{resource}", self._values[POLL_RATE])

    def set_poll_rate(self, seconds: int, resource: str | None = None) -> None:
        """The server's poll rate, or (``resource``) one resource's own."""
        self._set(POLL_RATE if resource is None else f"{POLL_RATE}.{resource}", seconds)

    def set_post_rate(self, seconds: int) -> None:
        self._set(POST_RATE, seconds)

    def now(self) -> datetime:
        return self._clock()

    def _set(self, name: str, seconds: int) -> None:
        if not 1 <= seconds <= 0xFFFFFFFF:
            issue = ValidationIssue("setting", name, name, seconds, "1 .. 4294967295 seconds")
            raise ValidationError([issue])
        with self._lock:
            self._repo.put(name, seconds)
            self._values[name] = seconds
        for listener in self.on_change:
            listener()
