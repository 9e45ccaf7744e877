"""Registry DER -> 2030.5 EndDevices, topology nodes -> FSAs and DERPrograms, through the
server's internal API on SQLite: every provisioned DER gets one EndDevice carrying its id
(its own certificate's LFDI, or one its aggregator may manage), the program its topology node
names, and a program of its own; DER not provisioned are skipped; a second call changes
nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from openderms.grid.topology import derive_topology
from openderms.protocols.ieee2030_5.domain import Page
from openderms.protocols.ieee2030_5.security.ca import CertificateAuthority
from openderms.protocols.ieee2030_5.services import build_services
from openderms.services.der_2030_5 import managed_identity, map_ders, served_records
from openderms.services.live.fleet import twin_records
from openderms.sim.twin import build_twin
from openderms.store import Store


def test_registry_ders_become_end_devices_in_their_nodes_program(sqlite_store: Store) -> None:
    net = build_twin("small").network
    records = twin_records(
        net, derive_topology(net), aggregators=2, direct=1, now=datetime.now(UTC)
    )
    pending = records[-1].model_copy(update={"status": "approved", "provisioning": None})
    records = [*records[:-1], pending]
    sqlite_store.ders.add_many(records)
    ca = CertificateAuthority.create("test")
    own_id = records[0].id
    own = {own_id: ca.issue_client(own_id).identity}
    aggs = {name: ca.issue_client(name).identity for name in ("agg0", "agg1")}
    services = build_services(sqlite_store.engine, pen=1)
    try:
        served = list(served_records(sqlite_store.ders, page=50))
        first = map_ders(services, served, own, aggs)
        again = map_ders(services, served, own, aggs)
        assert first == again
        assert pending.id not in {r.id for r in served}
        every = map_ders(services, records, own, aggs)
        assert every.skipped == (pending.id,)
        assert every.end_device_of == first.end_device_of
        assert len(first.end_device_of) == len(records) - 1
        managed = records[1]
        agg_name = str(managed.registration.aggregator_id)
        client = services.end_devices.client(aggs[agg_name])
        page, total = services.end_devices.page(client, Page(start=0, limit=1000))
        assert total == sum(r.registration.aggregator_id == agg_name for r in served)
        assert managed_identity(managed.id).lfdi in {e.lfdi for e in page}
        assert {e.der_id for e in page} == {
            r.id for r in served if r.registration.aggregator_id == agg_name
        }
        mine = services.end_devices.client(own[own_id])
        programs = {p.description for p in services.programs.programs(mine)}
        node = first.node_of[own_id]
        assert f"derp-{node}" in programs
        assert f"edev-{first.end_device_of[own_id]}" in programs
    finally:
        services.close()
