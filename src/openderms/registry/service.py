"""The DER registry's use cases: register (one or a batch), screen and self-provision, query,
update and lifecycle actions, with role scoping and an audit trail.

``RegistryService`` keeps one ``HostingEngine`` for its network, consistent with the
repository: on start it loads what the store has granted (export per bus from
``granted_export_kw_by_bus``, import of import-only DER from the records); every grant,
refusal, update and decommission moves it, and a failed store write gives the reservation back.
Calls are serialised by a lock (screening state and store writes stay in step).

Who may do what: an installer sees and updates its own registrations and may decommission
them; an aggregator sees the DER that name its ``aggregator_id`` and may suspend and resume
them; an operator sees and does everything. A DER the actor may not see is "not found".

Events (through ``EventPublisher``, after the store write): ``der.screened`` for every
decision, ``der.provisioned`` when a DER is set up for control, ``der.status_changed`` for
lifecycle actions. Powers in events follow DESIGN.md (export positive, generator convention).
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from openderms.errors import (
    ConflictError,
    NotFoundError,
    ValidationError,
    ValidationIssue,
)
from openderms.grid.hosting import HostingEngine
from openderms.grid.model import Network
from openderms.grid.powerflow import InjectionSeries
from openderms.grid.topology import derive_topology
from openderms.registry.aggregators import AggregatorRegistry, AggregatorRepository, lfdi_issues
from openderms.registry.domain import (
    ACTION_TARGET,
    Action,
    AuditEntry,
    DerRecord,
    Location,
    Provisioning,
    Registration,
    Screening,
    Status,
)
from openderms.registry.ports import Actor, Clock, DerQuery, DerRepository, EventPublisher
from openderms.registry.provisioning import (
    DECIDED,
    ID_PREFIX,
    SYSTEM_ACTOR,
    Grant,
    check_action,
    check_update,
    granted,
    provision_entry,
    provisioned_event,
    provisioning_for,
    scan_store,
    screened_event,
)
from openderms.registry.screening import (
    HostingAt,
    NetworkIndex,
    ScreeningRules,
    decide,
    direction_of,
    hosting_at,
)


class RegistryService:
    """Registration, self-provisioning and lifecycle of the DER of one network."""

    def __init__(
        self,
        network: Network,
        repo: DerRepository,
        events: EventPublisher,
        clock: Clock,
        *,
        injections: InjectionSeries | None = None,
        rules: ScreeningRules | None = None,
        aggregators: AggregatorRepository | None = None,
    ) -> None:
        self.network = network
        self._aggregators = aggregators  # None: no aggregator LFDIs to keep unique against
        #: registering aggregators (None without an aggregator repository)
        self.aggregators = (
            None if aggregators is None else AggregatorRegistry(aggregators, repo, clock, events)
        )
        self.rules = rules or ScreeningRules()
        self._repo, self._events, self._clock = repo, events, clock
        self._lock = threading.RLock()
        topo = derive_topology(network)
        self._index = NetworkIndex(network, topo, self.rules.grouping)
        known = topo.bus_index
        export = {b: kw for b, kw in repo.granted_export_kw_by_bus().items() if b in known}
        imports, last = scan_store(repo)
        self.hosting = HostingEngine.build(
            network,
            injections,
            self.rules.hosting,
            granted_export_kw=export,
            granted_import_kw={b: kw for b, kw in imports.items() if b in known},
        )
        self._next = last + 1

    # ------------------------------------------------------------------ registering
    def register(self, data: Registration, actor: Actor) -> DerRecord:
        """Register one DER: map it to the network, screen, decide and self-provision
        (``ValidationError`` naming the location field of an unknown id)."""
        return self._register([data], actor, None, lambda n: "(new)")[0]

    def register_many(
        self,
        data: Sequence[Registration],
        actor: Actor,
        progress: Callable[[int, int], None] | None = None,
    ) -> builtins.list[DerRecord]:
        """Register a batch, all or nothing: every item is checked first (issues name
        "row N", N counting items from 1), then screened in order (each sees what the earlier
        ones were granted), then stored in one write."""
        return self._register(data, actor, progress, lambda n: f"row {n}")

    def _register(
        self,
        data: Sequence[Registration],
        actor: Actor,
        progress: Callable[[int, int], None] | None,
        label: Callable[[int], str],
    ) -> builtins.list[DerRecord]:
        issues: list[ValidationIssue] = []
        buses: list[str] = []
        seen: dict[str, int] = {}
        for n, reg in enumerate(data, start=1):
            bus, bad = self._index.locate(reg.location, label(n))
            issues += bad
            buses.append(bus or "")
            first = seen.setdefault(reg.application_id, n)
            if first != n:
                issues.append(
                    ValidationIssue(
                        "registration",
                        label(n),
                        "application_id",
                        reg.application_id,
                        f"an id not used by another item of the batch (row {first})",
                    )
                )
        if issues:
            raise ValidationError(issues)
        total, step = len(data), max(1, len(data) // 100)
        with self._lock:
            claims = [("registration", label(n), r.device_lfdi) for n, r in enumerate(data, 1)]
            issues = lfdi_issues(claims, self._repo, self._aggregators)
            if issues:
                raise ValidationError(issues)
            self.hosting.prepare(buses)
            now = self._clock.now()
            records: list[DerRecord] = []
            grants: list[Grant] = []
            try:
                for n, (reg, bus) in enumerate(zip(data, buses, strict=True), start=1):
                    der_id = f"{ID_PREFIX}{self._next + n - 1:07d}"
                    rec = self._new_record(der_id, reg, bus, actor, now)
                    self._hold(rec, grants)
                    records.append(rec)
                    if progress is not None and (n % step == 0 or n == total):
                        progress(n, total)
                self._repo.add_many(records)
            except BaseException:
                self._undo(grants)
                raise
            self._next += total
        for rec in records:
            self._announce(rec)
        return records

    def _new_record(
        self, der_id: str, reg: Registration, bus: str, actor: Actor, now: datetime
    ) -> DerRecord:
        submitted = AuditEntry(
            at=now,
            actor=actor.id,
            action="submit",
            from_status=None,
            to_status="submitted",
            detail=f"application {reg.application_id}",
        )
        status, screening, provisioning, trail = self._screen(reg, bus, "submitted", now)
        return DerRecord(
            id=der_id,
            registration=reg,
            status=status,
            installer_id=actor.id,
            created_at=now,
            updated_at=now,
            screening=screening,
            provisioning=provisioning,
            audit=(submitted, *trail),
        )

    def _screen(
        self, reg: Registration, bus: str, start: Status, now: datetime
    ) -> tuple[Status, Screening, Provisioning | None, tuple[AuditEntry, ...]]:
        """Screen ``reg`` at ``bus`` (nothing is reserved here), then provision if approved."""
        direction, kw = direction_of(reg)
        outcome = decide(
            self.hosting.screen(bus, kw, direction),
            self.rules,
            feeder_id=self._index.feeder(bus),
            topology_node_id=self._index.node(bus),
            now=now,
        )
        s = outcome.screening
        decided = DECIDED[s.decision]
        trail = [
            AuditEntry(
                at=now,
                actor=SYSTEM_ACTOR,
                action="screen",
                from_status=start,
                to_status="screening",
                detail=f"bus {bus}, {direction} {kw:g} kW",
            ),
            AuditEntry(
                at=now,
                actor=SYSTEM_ACTOR,
                action=s.decision,
                from_status="screening",
                to_status=decided,
                detail=s.reason,
            ),
        ]
        if s.decision == "reject":
            return decided, s, None, tuple(trail)
        prov = provisioning_for(reg, s, now)
        trail.append(provision_entry(prov, decided, SYSTEM_ACTOR, now))
        return "provisioned", s, prov, tuple(trail)

    def _hold(self, rec: DerRecord, grants: list[Grant]) -> None:
        g = granted(rec)
        if g is not None:
            self.hosting.grant(*g)
            grants.append(g)

    def _undo(self, grants: Sequence[Grant]) -> None:
        for bus, kw, direction in reversed(grants):
            self.hosting.release(bus, kw, direction)

    def _announce(self, rec: DerRecord) -> None:
        s = rec.screening
        if s is None:
            return
        self._events.publish("der.screened", screened_event(rec, s))
        if rec.status == "provisioned":
            self._announce_provisioned(rec)

    def _announce_provisioned(self, rec: DerRecord) -> None:
        if rec.screening is not None and rec.provisioning is not None:
            payload = provisioned_event(rec, rec.screening, rec.provisioning)
            self._events.publish("der.provisioned", payload)

    # ------------------------------------------------------------------ reading
    def _visible(self, record: DerRecord, actor: Actor) -> bool:
        if actor.role == "operator":
            return True
        if actor.role == "installer":
            return record.installer_id == actor.id
        return record.registration.aggregator_id == (actor.aggregator_id or actor.id)

    def get(self, der_id: str, actor: Actor) -> DerRecord:
        """The record ``der_id`` (``NotFoundError`` when missing or not the actor's to see)."""
        rec = self._repo.get(der_id)
        if rec is None or not self._visible(rec, actor):
            raise NotFoundError("DER", der_id)
        return rec

    def list(self, actor: Actor, q: DerQuery) -> tuple[builtins.list[DerRecord], int]:
        """One page of the records ``actor`` may see that match ``q``, and their count."""
        if actor.role == "installer":
            q = replace(q, installer_id=actor.id)
        elif actor.role == "aggregator":
            q = replace(q, aggregator_id=actor.aggregator_id or actor.id)
        return self._repo.query(q)

    def hosting_capacity_at(self, location: Location) -> HostingAt:
        """What a location still takes, before applying (``ValidationError`` naming an
        unknown id)."""
        bus, issues = self._index.locate(location, "(location)")
        if bus is None:
            raise ValidationError(issues)
        with self._lock:
            export = self.hosting.screen(bus, 0.0, "export")
            imp = self.hosting.screen(bus, 0.0, "import")
        return hosting_at(self._index, bus, export, imp)

    # ------------------------------------------------------------------ changing
    def update(
        self, der_id: str, data: Registration, actor: Actor, expected_version: int
    ) -> DerRecord:
        """Replace a registration and screen it again (its owner before it is provisioned,
        an operator at any status but decommissioned); an approved DER is provisioned
        afresh (an active one must be activated again). ``ConflictError`` on a stale
        ``expected_version``."""
        with self._lock:
            rec = self.get(der_id, actor)
            check_update(rec, actor)
            if rec.version != expected_version:
                raise ConflictError(
                    f"DER {der_id!r} is at version {rec.version}, not {expected_version}"
                )
            bus, issues = self._index.locate(data.location, der_id)
            claim = [("registration", der_id, data.device_lfdi)]
            issues += lfdi_issues(claim, self._repo, self._aggregators)
            if bus is None or issues:
                raise ValidationError(issues)
            now = self._clock.now()
            released: list[Grant] = []
            held: list[Grant] = []
            old = granted(rec)
            if old is not None:
                self.hosting.release(*old)
                released.append(old)
            try:
                self.hosting.prepare((bus,))
                status, screening, prov, trail = self._screen(data, bus, rec.status, now)
                first = trail[0].model_copy(update={"actor": actor.id, "action": "update"})
                new = rec.model_copy(
                    update={
                        "registration": data,
                        "status": status,
                        "screening": screening,
                        "provisioning": prov,
                        "updated_at": now,
                        "audit": (*rec.audit, first, *trail[1:]),
                        "version": rec.version + 1,
                    }
                )
                self._hold(new, held)
                self._repo.save(new, expected_version)
            except BaseException:
                self._undo(held)
                for g in released:
                    self.hosting.grant(*g)
                raise
        self._announce(new)
        return new

    def act(self, der_id: str, action: Action, actor: Actor, detail: str = "") -> DerRecord:
        """A lifecycle action (``LifecycleError`` when the status does not allow it,
        ``PermissionDeniedError`` when the role does not)."""
        if action not in ACTION_TARGET:
            raise ValidationError(
                [ValidationIssue("action", der_id, "action", action, f"one of {ACTION_TARGET}")]
            )
        with self._lock:
            rec = self.get(der_id, actor)
            target = check_action(rec, action, actor)
            now = self._clock.now()
            update: dict[str, Any] = {"status": target, "updated_at": now}
            if action == "provision":
                assert rec.screening is not None
                prov = provisioning_for(rec.registration, rec.screening, now)
                entry = provision_entry(prov, rec.status, actor.id, now, detail)
                update["provisioning"] = prov
            else:
                entry = AuditEntry(
                    at=now,
                    actor=actor.id,
                    action=action,
                    from_status=rec.status,
                    to_status=target,
                    detail=detail,
                )
            update["audit"] = (*rec.audit, entry)
            update["version"] = rec.version + 1
            new = rec.model_copy(update=update)
            old, kept = granted(rec), granted(new)
            self._repo.save(new, rec.version)
            if old is not None and kept is None:
                self.hosting.release(*old)
        self._events.publish(
            "der.status_changed",
            {
                "id": der_id,
                "action": action,
                "from_status": rec.status,
                "to_status": target,
                "actor": actor.id,
            },
        )
        if action == "provision":
            self._announce_provisioned(new)
        return new
