"""Registry DER -> IEEE 2030.5 EndDevices; topology nodes -> FSAs and DERPrograms.

Issue 4, item 4: each provisioned DER of the registry becomes an EndDevice of the 2030.5
server (its LFDI from the device's own certificate, or, for a DER an aggregator speaks for,
an LFDI the aggregator's certificate is allowed to manage), carrying the registry's DER id;
each topology node becomes a FunctionSetAssignments with the DERProgram the registry's
provisioning named (``Provisioning.der_program_id``), so a control for the whole node goes to
every DER of it; each EndDevice also gets its own program (``DerProgramManager.
device_program``) for controls to that DER alone. All through the server's internal API,
idempotent (a second call changes nothing).

    mapping = map_ders(services, records, identities, aggregators)
    mapping.end_device_of["PV_1"]   -> EndDevice id      (Ieee2030_5Delivery's device_of)
    mapping.program_of_node["F1_T02"] -> DERProgram id   (its program_of)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from openderms.errors import PermissionDeniedError
from openderms.protocols.ieee2030_5.domain import Page
from openderms.protocols.ieee2030_5.security.identity import ClientIdentity, sfdi_from_lfdi
from openderms.protocols.ieee2030_5.services import Ieee2030_5Services
from openderms.registry.domain import DerRecord
from openderms.registry.ports import DerQuery, DerRepository

#: primacy of a topology node's program (a device's own program has its own, lower number)
NODE_PROGRAM_PRIMACY = 2
#: registry statuses whose DER are served over 2030.5
SERVED = frozenset({"provisioned", "active", "suspended"})


def managed_identity(der_id: str) -> ClientIdentity:
    """The identity of a DER without a certificate of its own, managed by an aggregator: a
    stable LFDI (the first 160 bits of SHA-256 of the DER id, as the aggregator would derive
    it from the device's serial number)."""
    lfdi = hashlib.sha256(f"openderms-der:{der_id}".encode()).hexdigest()[:40]
    return ClientIdentity(lfdi=lfdi, sfdi=sfdi_from_lfdi(lfdi))


@dataclass(frozen=True, slots=True)
class Ieee2030_5Mapping:  # noqa: N801 (the standard's name)
    """What ``map_ders`` made: DER id -> EndDevice id, topology node -> FSA and DERProgram
    ids, DER id -> the topology node it is in, and the DER it skipped (not provisioned)."""

    end_device_of: dict[str, int] = field(default_factory=dict)
    program_of_node: dict[str, int] = field(default_factory=dict)
    fsa_of_node: dict[str, int] = field(default_factory=dict)
    node_of: dict[str, str] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()


def map_ders(
    services: Ieee2030_5Services,
    records: Iterable[DerRecord],
    identities: Mapping[str, ClientIdentity] | None = None,
    aggregators: Mapping[str, ClientIdentity] | None = None,
    *,
    pin: int | None = None,
) -> Ieee2030_5Mapping:
    """EndDevices, FSAs and DERPrograms for ``records`` (see the module docstring).

    ``identities``: DER id -> the identity of its own certificate (a DER speaking for
    itself); a DER missing there gets ``managed_identity``. ``aggregators``: aggregator id
    (``Registration.aggregator_id``) -> the identity of its certificate; a DER whose
    aggregator is listed is managed by it. DER not provisioned yet are skipped."""
    own = identities or {}
    aggs = aggregators or {}
    for name, agg in aggs.items():
        services.end_devices.put_client(agg, "aggregator", name)
    out = Ieee2030_5Mapping()
    skipped = []
    for rec in records:
        prov = rec.provisioning
        if prov is None or rec.status not in SERVED:
            skipped.append(rec.id)
            continue
        agg_id = rec.registration.aggregator_id
        agg_lfdi = aggs[agg_id].lfdi if agg_id is not None and agg_id in aggs else None
        identity = own.get(rec.id) or managed_identity(rec.id)
        edev = services.end_devices.ensure(identity, agg_lfdi, pin=pin, der_id=rec.id)
        node = prov.topology_node_id
        if node not in out.fsa_of_node:
            fsa = services.fsas.ensure(node)
            program = services.programs.ensure_program(
                fsa.id, prov.der_program_id, NODE_PROGRAM_PRIMACY
            )
            out.fsa_of_node[node] = fsa.id
            out.program_of_node[node] = program.id
        services.fsas.assign(edev.id, out.fsa_of_node[node])
        services.programs.device_program(edev.id)  # so the device finds it when it discovers
        out.end_device_of[rec.id] = edev.id
        out.node_of[rec.id] = node
    return Ieee2030_5Mapping(
        out.end_device_of, out.program_of_node, out.fsa_of_node, out.node_of, tuple(skipped)
    )


def served_records(repo: DerRepository, page: int = 1000) -> Iterator[DerRecord]:
    """Every DER of the registry store whose status is served over 2030.5, page by page
    (what ``openderms serve`` maps when it starts)."""
    offset = 0
    while True:
        rows, total = repo.query(DerQuery(offset=offset, limit=page))
        yield from (r for r in rows if r.status in SERVED)
        offset += page
        if offset >= total or not rows:
            return


# -- keeping the 2030.5 side in step with the registry (``openderms serve --sep-port``) -----

#: registry statuses whose DER are connected: mapped, with access; a suspended or
#: decommissioned DER loses its programs (and a device certificate its access)
CONNECTED = frozenset({"provisioned", "active"})


def identity_of(
    rec: DerRecord, aggregators: Mapping[str, ClientIdentity]
) -> tuple[ClientIdentity, ClientIdentity | None] | None:
    """(the DER's identity, its aggregator's) as the registry knows them, None when it has
    none: a direct DER needs its ``device_lfdi``; a DER behind an aggregator needs that
    aggregator registered (the DER then has its ``device_lfdi``, else ``managed_identity``)."""
    reg = rec.registration
    own = ClientIdentity.from_lfdi(reg.device_lfdi) if reg.device_lfdi else None
    if reg.comm_path == "ieee2030_5_direct":
        return None if own is None else (own, None)
    if reg.comm_path == "aggregator" and reg.aggregator_id in aggregators:
        return own or managed_identity(rec.id), aggregators[reg.aggregator_id or ""]
    return None


def _every_record(
    repo: DerRepository, q: DerQuery | None = None, page: int = 1000
) -> Iterator[DerRecord]:
    offset, base = 0, q or DerQuery()
    while True:
        rows, total = repo.query(replace(base, offset=offset, limit=page))
        yield from rows
        offset += page
        if offset >= total or not rows:
            return


class RegistrySync:
    """Maps registry DER to EndDevices and back, through the server's internal API: ``start``
    maps every connected DER with an identity (and cuts off the others), ``der_changed``
    follows one DER after a ``der.provisioned`` or ``der.status_changed`` event."""

    def __init__(
        self,
        services: Ieee2030_5Services,
        ders: DerRepository,
        aggregators: Callable[[], Mapping[str, ClientIdentity]],
    ) -> None:
        self._services, self._ders, self._aggregators = services, ders, aggregators
        #: DER id -> the identity last mapped for it (an update may change it)
        self._mapped: dict[str, ClientIdentity] = {}
        #: DER id -> the topology node it was last mapped in (an update may move it)
        self._node: dict[str, str] = {}

    def start(self) -> Ieee2030_5Mapping:
        """Map what the store holds (see the class docstring); returns what was mapped."""
        aggs = self._aggregators()
        for name, agg in aggs.items():
            self._services.end_devices.put_client(agg, "aggregator", name)
        connected, own, direct = [], {}, set()
        for rec in _every_record(self._ders):
            ids = identity_of(rec, aggs)
            if ids is None or rec.status not in SERVED | {"decommissioned"}:
                continue
            if rec.status in CONNECTED:
                connected.append(rec)
                own[rec.id] = ids[0]
                if ids[1] is None:
                    direct.add(rec.id)
            else:
                self._cut_off(rec, ids[0])
        mapping = map_ders(self._services, connected, own, aggs)
        self._node.update(mapping.node_of)
        for der_id in mapping.end_device_of:
            self._grant(der_id, own[der_id], direct=der_id in direct)
        return mapping

    def der_changed(self, der_id: str) -> str:
        """Bring ``der_id``'s EndDevice in step with its record: "mapped", "unmapped" or
        "skipped" (no identity, nothing mapped before)."""
        rec = self._ders.get(der_id)
        aggs = self._aggregators()
        ids = None if rec is None else identity_of(rec, aggs)
        before = self._mapped.get(der_id)
        if before is not None and (ids is None or ids[0] != before):
            self._cut_off_identity(der_id, before, rec)
        if rec is None or ids is None:
            return "unmapped" if before is not None else "skipped"
        if rec.status not in CONNECTED:
            self._cut_off(rec, ids[0])
            return "unmapped"
        agg_name = rec.registration.aggregator_id
        used = {agg_name: aggs[agg_name]} if ids[1] is not None and agg_name else {}
        map_ders(self._services, [rec], {rec.id: ids[0]}, used)
        self._grant(rec.id, ids[0], direct=ids[1] is None)
        node = rec.provisioning.topology_node_id if rec.provisioning is not None else None
        if node is not None and self._node.get(der_id, node) != node:
            self._drop_other_nodes(ids[0], node)
        if node is not None:
            self._node[der_id] = node
        return "mapped"

    def aggregator_added(self, aggregator_id: str) -> int:
        """Declare a newly registered aggregator's certificate and map the DER that name it
        (they were skipped while it was unknown); returns how many were mapped."""
        agg = self._aggregators().get(aggregator_id)
        if agg is None:
            return 0
        self._services.end_devices.put_client(agg, "aggregator", aggregator_id)
        ids = [r.id for r in _every_record(self._ders, DerQuery(aggregator_id=aggregator_id))]
        return sum(self.der_changed(der_id) == "mapped" for der_id in ids)

    # -- internals ------------------------------------------------------------------------

    def _grant(self, der_id: str, identity: ClientIdentity, *, direct: bool) -> None:
        edevs = self._services.end_devices
        if direct and not edevs.access_granted(identity):
            edevs.set_access(identity, True)
        self._mapped[der_id] = identity

    def _cut_off(self, rec: DerRecord, identity: ClientIdentity) -> None:
        """The DER keeps its EndDevice (its history) but loses its topology node's programs;
        a device certificate loses its access, an aggregator the device."""
        self._cut_off_identity(rec.id, identity, rec)

    def _cut_off_identity(
        self, der_id: str, identity: ClientIdentity, rec: DerRecord | None
    ) -> None:
        """Unassign every FSA of the identity's EndDevice, take it from its aggregator and
        revoke the certificate (a real one, from ``device_lfdi``, also when it has no
        EndDevice yet); nothing when it is cut off already."""
        self._mapped.pop(der_id, None)
        s = self._services
        found = self._end_device(identity)
        if found is None:
            real = identity != managed_identity(der_id)
            if real and s.end_devices.access_granted(identity):
                s.end_devices.set_access(identity, False)
            return
        s.end_devices.ensure(identity, None, der_id=der_id)
        for fsa_id in found[1]:
            s.fsas.unassign(found[0], fsa_id)
        s.end_devices.set_access(identity, False)

    def _end_device(self, identity: ClientIdentity) -> tuple[int, list[int]] | None:
        """(EndDevice id, its FSA ids) of ``identity``, None when it has no EndDevice or its
        access is revoked."""
        edevs = self._services.end_devices
        try:
            client = edevs.client(identity)
        except PermissionDeniedError:
            return None
        devices, _ = edevs.page(client, Page(limit=1))
        own = [d for d in devices if d.lfdi == identity.lfdi]
        if not own:
            return None
        _, fsas = self._services.fsas.of(client, own[0].id)
        return own[0].id, [f.id for f in fsas]

    def _drop_other_nodes(self, identity: ClientIdentity, node: str) -> None:
        """Unassign the FSAs of topology nodes the DER is no longer in (after an update)."""
        found = self._end_device(identity)
        if found is None:
            return
        keep = {self._services.fsas.ensure(node).id}
        edev_id, fsa_ids = found
        own = self._services.programs.device_program(edev_id).fsa_id
        for fsa_id in fsa_ids:
            if fsa_id not in keep and fsa_id != own:
                self._services.fsas.unassign(edev_id, fsa_id)
