"""When a constraint episode is over: hysteresis and a minimum hold time.

An *episode* opens when a violation is found (its key ``"<kind>:<element>"``). It stays open
while the network *without the loop's controls* (every controllable DER at its available
power, the others at their fallback) would still violate the limit tightened by the clearing
hysteresis (``control.CLEARING_HYSTERESIS``: 0.005 pu, 5 % of rating, 100 kW). Once that has
held for ``hold_s`` without interruption the episode clears; when every episode has cleared,
the controls end and DER return to their defaults (or market schedules).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(slots=True)
class Episode:
    key: str
    opened: datetime
    clear_since: datetime | None = None


class EpisodeTracker:
    """Open episodes and their clearing (see the module docstring)."""

    def __init__(self, hold_s: float) -> None:
        self.hold = timedelta(seconds=hold_s)
        self.episodes: dict[str, Episode] = {}

    def open(self, keys: Iterable[str], now: datetime) -> list[str]:
        """Open (or keep open) an episode per key; returns the newly opened ones."""
        new = []
        for k in keys:
            ep = self.episodes.get(k)
            if ep is None:
                self.episodes[k] = Episode(k, now)
                new.append(k)
            else:
                ep.clear_since = None
        return new

    def update(self, still_violating: Iterable[str], now: datetime) -> list[str]:
        """``still_violating``: keys the uncontrolled network still violates within the
        hysteresis. Returns the episodes that clear now (and drops them)."""
        still = set(still_violating)
        done = []
        for k, ep in list(self.episodes.items()):
            if k in still:
                ep.clear_since = None
                continue
            if ep.clear_since is None:
                ep.clear_since = now
            if now - ep.clear_since >= self.hold:
                done.append(k)
                del self.episodes[k]
        return done

    def drop(self, keys: Iterable[str]) -> None:
        """Forget episodes the loop cannot act on (outside DER control)."""
        for k in keys:
            self.episodes.pop(k, None)

    @property
    def active(self) -> bool:
        return bool(self.episodes)
