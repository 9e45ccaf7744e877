"""Pieces of self-provisioning the registry service assembles: what a record holds on the
network, its provisioning for control, its audit entries, the events announcing it, and who
may change it how.

Lifecycle rules on top of ``domain.TRANSITIONS``: an installer may decommission its own DER,
an aggregator may suspend and resume the DER that name it, an operator may do anything;
``resume`` only from suspended and ``activate`` only from provisioned. Updates: an installer
before its DER is provisioned, an operator at any status but decommissioned.

Powers follow DESIGN.md: export kW in generator convention (positive = into the grid),
import kW as positive numbers drawn from the grid.
"""

from __future__ import annotations

from datetime import datetime
from types import MappingProxyType
from typing import Any

from openderms.errors import LifecycleError, PermissionDeniedError
from openderms.grid.hosting import Direction
from openderms.registry.domain import (
    ACTION_TARGET,
    TRANSITIONS,
    Action,
    AuditEntry,
    DerRecord,
    Provisioning,
    Registration,
    Screening,
    Status,
)
from openderms.registry.memory import GRANTING
from openderms.registry.ports import Actor, DerQuery, DerRepository

SYSTEM_ACTOR = "system:self-provisioning"  # the actor of automatic steps in the audit trail
ID_PREFIX = "der-"
DECIDED: MappingProxyType[str, Status] = MappingProxyType(
    {"approve": "approved", "approve_with_limit": "approved_with_limit", "reject": "rejected"}
)
BEFORE_PROVISIONED: frozenset[Status] = frozenset(
    {"submitted", "screening", "approved", "approved_with_limit", "rejected"}
)
ROLE_ACTIONS: MappingProxyType[str, frozenset[Action]] = MappingProxyType(
    {
        "installer": frozenset({"decommission"}),
        "aggregator": frozenset({"suspend", "resume"}),
        "operator": frozenset(ACTION_TARGET),
    }
)
ACTION_FROM: MappingProxyType[Action, frozenset[Status]] = MappingProxyType(
    {"resume": frozenset({"suspended"}), "activate": frozenset({"provisioned"})}
)
Grant = tuple[str, float, Direction]  # (bus, kW, direction)


def granted(record: DerRecord) -> Grant | None:
    """What ``record`` holds on the network: (bus, kW, direction), None when nothing
    (statuses that hold capacity: approved with or without limit, provisioned, active,
    suspended)."""
    s = record.screening
    if record.status not in GRANTING or s is None:
        return None
    if s.direction == "import":
        kw = s.import_limit_kw if s.import_limit_kw is not None else s.requested_kw
    else:
        kw = s.export_limit_kw if s.export_limit_kw is not None else s.requested_kw
    return (s.bus_id, kw, s.direction) if kw > 0 else None


def scan_store(repo: DerRepository, page: int = 1000) -> tuple[dict[str, float], int]:
    """Import granted per bus (import-only DER, kW) and the highest ``der-N`` number stored."""
    imports: dict[str, float] = {}
    last, offset = 0, 0
    while True:
        rows, total = repo.query(DerQuery(offset=offset, limit=page))
        for r in rows:
            g = granted(r)
            if g is not None and g[2] == "import":
                imports[g[0]] = imports.get(g[0], 0.0) + g[1]
            tail = r.id.removeprefix(ID_PREFIX)
            if r.id.startswith(ID_PREFIX) and tail.isdigit():
                last = max(last, int(tail))
        offset += page
        if offset >= total or not rows:
            return imports, last


def provisioning_for(reg: Registration, s: Screening, now: datetime) -> Provisioning:
    """Control set-up of an approved DER: its topology node's group and 2030.5 program."""
    return Provisioning(
        topology_node_id=s.topology_node_id,
        feeder_id=s.feeder_id,
        programs=reg.programs,
        comm_path=reg.comm_path,
        der_program_id=f"derp-{s.topology_node_id}",
        provisioned_at=now,
    )


def provision_entry(
    prov: Provisioning, start: Status, actor: str, now: datetime, detail: str = ""
) -> AuditEntry:
    words = (
        f"topology node {prov.topology_node_id}, program {prov.der_program_id}, "
        f"{prov.comm_path}, enrolled in {', '.join(prov.programs) or 'no programme'}"
    )
    return AuditEntry(
        at=now,
        actor=actor,
        action="provision",
        from_status=start,
        to_status="provisioned",
        detail=f"{detail}: {words}" if detail else words,
    )


def screened_event(rec: DerRecord, s: Screening) -> dict[str, Any]:
    """Payload of ``der.screened``."""
    return {
        "id": rec.id,
        "bus_id": s.bus_id,
        "decision": s.decision,
        "direction": s.direction,
        "requested_kw": s.requested_kw,
        "export_limit_kw": s.export_limit_kw,
        "import_limit_kw": s.import_limit_kw,
        "hosting_capacity_kw": s.hosting_capacity_kw,
        "topology_node_id": s.topology_node_id,
        "reason": s.reason,
    }


def provisioned_event(rec: DerRecord, s: Screening, p: Provisioning) -> dict[str, Any]:
    """Payload of ``der.provisioned`` (what the protocol layer needs to serve the DER)."""
    return {
        "id": rec.id,
        "bus_id": s.bus_id,
        "feeder_id": p.feeder_id,
        "topology_node_id": p.topology_node_id,
        "der_program_id": p.der_program_id,
        "export_limit_kw": s.export_limit_kw,
        "import_limit_kw": s.import_limit_kw,
        "comm_path": p.comm_path,
        "aggregator_id": rec.registration.aggregator_id,
        "programs": list(p.programs),
    }


def check_update(rec: DerRecord, actor: Actor) -> None:
    """Raise unless ``actor`` (who can see ``rec``) may update it now."""
    if actor.role == "aggregator":
        raise PermissionDeniedError(
            f"aggregator {actor.id} may not update DER {rec.id}: only its installer or an "
            "operator may"
        )
    if rec.status == "decommissioned" or (
        actor.role != "operator" and rec.status not in BEFORE_PROVISIONED
    ):
        raise LifecycleError(
            f"DER {rec.id} is {rec.status}: an installer may update it only before it is "
            "provisioned, an operator at any status but decommissioned"
        )


def check_action(rec: DerRecord, action: Action, actor: Actor) -> Status:
    """The status ``action`` leads ``rec`` to; raises ``PermissionDeniedError`` when the
    actor's role may not, ``LifecycleError`` (naming from, to and what is allowed) when the
    status does not allow it."""
    may = ROLE_ACTIONS[actor.role]
    if action not in may:
        raise PermissionDeniedError(
            f"{actor.role} {actor.id} may not {action} DER {rec.id} "
            f"(an {actor.role} may: {', '.join(sorted(may))})"
        )
    target = ACTION_TARGET[action]
    allowed = TRANSITIONS[rec.status]
    if target not in allowed or rec.status not in ACTION_FROM.get(action, TRANSITIONS.keys()):
        raise LifecycleError(
            f"cannot {action} DER {rec.id}: {rec.status} -> {target} is not allowed; from "
            f"{rec.status} it may go to {', '.join(sorted(allowed)) or 'nothing'}"
        )
    return target
