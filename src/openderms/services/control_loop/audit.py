"""The audit log: every step the control loop takes, who did it, what, why and when, with
the constraint and the controls concerned. Kept in memory and handed to a sink (a logger, the
store, the bus) as it is written."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One step: ``at`` (UTC), ``actor`` (``control_loop``, an operator's id), ``action``
    (``violation``, ``dispatch``, ``control_queued``, ``failsafe``, ``revert``...), ``why``,
    the ``constraint`` key (``"<kind>:<element>"``) and the control ids or DER ids."""

    at: datetime
    actor: str
    action: str
    why: str
    constraint: str = ""
    controls: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "why": self.why,
            "constraint": self.constraint,
            "controls": list(self.controls),
        }


class AuditLog:
    """Append-only list of ``AuditEntry``; ``sink`` sees each entry as it is written."""

    def __init__(self, sink: Callable[[AuditEntry], None] | None = None) -> None:
        self.entries: list[AuditEntry] = []
        self._sink = sink

    def write(
        self,
        at: datetime,
        action: str,
        why: str,
        *,
        constraint: str = "",
        controls: tuple[str, ...] = (),
        actor: str = "control_loop",
    ) -> AuditEntry:
        entry = AuditEntry(at, actor, action, why, constraint, controls)
        self.entries.append(entry)
        logger.info("%s %s: %s %s", at.isoformat(), action, why, constraint)
        if self._sink is not None:
            self._sink(entry)
        return entry

    def actions(self, action: str) -> list[AuditEntry]:
        return [e for e in self.entries if e.action == action]
