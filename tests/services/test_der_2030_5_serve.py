"""``openderms serve --sep-port``: the REST API and the 2030.5 server in one process on one
store. A DER registered over REST with its certificate's LFDI is provisioned, and that
certificate then finds its EndDevice, its topology node's FSA and DERProgram over real CSIP
TLS; an aggregator's certificate sees exactly its DER (also when the aggregator is registered
after them); decommissioning cuts access off (IEEE
2030.5 clause 6.11.7: a server refuses a client it no longer authorises, 403)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from openderms.config import Settings
from openderms.protocols.ieee2030_5.domain import Page
from openderms.protocols.ieee2030_5.schema.derp import DERProgramList
from openderms.protocols.ieee2030_5.schema.edev import EndDeviceList
from openderms.protocols.ieee2030_5.schema.fsa import FunctionSetAssignmentsList
from openderms.protocols.ieee2030_5.security.identity import ClientIdentity
from openderms.protocols.ieee2030_5.security.local_pki import LocalPki, make_local_pki
from openderms.protocols.ieee2030_5.security.tls import client_context
from openderms.protocols.ieee2030_5.services import Ieee2030_5Services, build_services
from openderms.registry.aggregators import AggregatorRegistry, parse_aggregator
from openderms.registry.domain import parse_registration
from openderms.registry.memory import SystemClock
from openderms.registry.ports import Actor
from openderms.services.der_2030_5 import RegistrySync, managed_identity
from openderms.services.der_2030_5_serve import SepOptions, Serving, open_serving
from openderms.store.aggregator_repository import SqlAggregatorRepository
from openderms.web.wiring import open_runtime

CLIENTS = ("inverter1", "inverter2", "aggA", "aggB")
WAIT_S = 30.0  # the most a bus event may take to reach the 2030.5 side (not a timing assert)


Pki = LocalPki


def make_pki(folder: Path) -> LocalPki:
    return make_local_pki(folder, CLIENTS, ca_name="serve test CA")


def sep_client(s: Serving, pki: Pki, name: str) -> httpx.AsyncClient:
    paths = pki.clients[name]
    ctx = client_context(paths.cert, paths.key, pki.ca)
    return httpx.AsyncClient(base_url=s.sep_url, verify=ctx, timeout=10)


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    """Wait for the bus event to be followed (fails after ``WAIT_S``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not await check():
        assert loop.time() < deadline, "the 2030.5 side did not follow the registry"
        await asyncio.sleep(0.05)


async def lfdis(c: httpx.AsyncClient) -> list[str]:
    r = await c.get("/edev", params={"l": 50})
    assert r.status_code == 200, r.text
    return sorted(e.lfdi or "" for e in EndDeviceList.from_xml(r.content).items)


def body(app: str, sp: str, **over: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "der_type": "pv",
        "nameplate": {"p_export_kw": 4.0, "s_kva": 4.4},
        "inverter": {"make": "SunCo", "model": "S-4", "certifications": ["UL1741SB"]},
        "location": {"service_point_id": sp},
        "owner_name": "Ada Owner",
        "owner_email": "ada@example.org",
        "application_id": app,
    }
    return out | over


def test_registered_der_are_served_over_2030_5_and_decommissioning_cuts_them_off(
    tmp_path: Path,
) -> None:
    pki = make_pki(tmp_path)
    settings = Settings(workspace=tmp_path / "ws", network_preset="small", bus_url="memory://")
    sep = SepOptions(port=0, cert=pki.server.cert, key=pki.server.key, ca=pki.ca)

    async def scenario() -> None:
        async with open_serving(settings, "127.0.0.1", 0, sep) as s:
            tokens = s.runtime.tokens
            ops = {"Authorization": f"Bearer {tokens.create(Actor('ops', 'operator'))}"}
            inst = {"Authorization": f"Bearer {tokens.create(Actor('acme', 'installer'))}"}
            points = [ld.id for ld in s.runtime.network.loads]
            async with httpx.AsyncClient(base_url=s.api_url, timeout=60) as api:
                agg = {"id": "aggA", "certificate_pem": pki.client_pem["aggA"]}
                r = await api.post("/api/v1/aggregators", json=agg, headers=ops)
                assert r.status_code == 201, r.text
                lfdi = pki.identities["inverter1"].lfdi
                r = await api.post(
                    "/api/v1/ders", json=body("APP-1", points[0], device_lfdi=lfdi), headers=inst
                )
                assert r.status_code == 201, r.text
                direct = r.json()
                assert direct["status"] == "provisioned"
                behind = []
                for n, (name, sp) in enumerate([("aggA", 1), ("aggA", 2), ("aggB", 3)]):
                    via = {"comm_path": "aggregator", "aggregator_id": name}
                    r = await api.post(
                        "/api/v1/ders", json=body(f"APP-A{n}", points[sp], **via), headers=inst
                    )
                    assert r.status_code == 201, r.text
                    behind.append(r.json()["id"])
                node = direct["provisioning"]["topology_node_id"]
                program = direct["provisioning"]["der_program_id"]

                async with sep_client(s, pki, "inverter1") as dev:
                    await until(lambda: _has_devices(dev))
                    r = await dev.get("/edev", params={"l": 10})
                    [edev] = EndDeviceList.from_xml(r.content).items
                    assert edev.lfdi == lfdi.upper()
                    link = edev.function_set_assignments_list_link
                    assert link is not None
                    fsas = FunctionSetAssignmentsList.from_xml(
                        (await dev.get(link.href, params={"l": 10})).content
                    ).items
                    [fsa] = [f for f in fsas if f.description == node]
                    assert fsa.der_program_list_link is not None
                    progs = DERProgramList.from_xml(
                        (await dev.get(fsa.der_program_list_link.href, params={"l": 10})).content
                    ).items
                    assert [p.description for p in progs] == [program]

                    async with sep_client(s, pki, "aggA") as a, sep_client(s, pki, "aggB") as b:
                        mine = sorted(managed_identity(d).lfdi.upper() for d in behind[:2])
                        await until(lambda: _sees(a, mine))
                        assert await lfdis(a) == mine  # not aggB's DER, not the direct one
                        r = await b.get("/edev", params={"l": 10})  # aggB is not registered
                        assert EndDeviceList.from_xml(r.content).items == []
                        agg = {"id": "aggB", "lfdi": pki.identities["aggB"].lfdi}
                        r = await api.post("/api/v1/aggregators", json=agg, headers=ops)
                        assert r.status_code == 201, r.text
                        its = [managed_identity(behind[2]).lfdi.upper()]
                        await until(lambda: _sees(b, its))  # mapped once aggB is known
                        assert await lfdis(a) == mine

                        r = await api.post(
                            f"/api/v1/ders/{direct['id']}/actions/decommission",
                            json={"detail": "removed"},
                            headers=inst,
                        )
                        assert r.status_code == 200, r.text
                        await until(lambda: _refused(dev))
                        r = await api.post(
                            f"/api/v1/ders/{behind[0]}/actions/decommission",
                            json={"detail": "removed"},
                            headers=ops,
                        )
                        assert r.status_code == 200, r.text
                        rest = [managed_identity(behind[1]).lfdi.upper()]
                        await until(lambda: _sees(a, rest))

    asyncio.run(scenario())


async def _has_devices(c: httpx.AsyncClient) -> bool:
    return bool(await lfdis(c))


async def _sees(c: httpx.AsyncClient, expected: list[str]) -> bool:
    return await lfdis(c) == expected


async def _refused(c: httpx.AsyncClient) -> bool:
    return (await c.get("/edev")).status_code == 403


def test_at_start_the_stored_der_with_an_identity_are_mapped_and_suspended_ones_cut_off(
    tmp_path: Path,
) -> None:
    pki = make_pki(tmp_path)
    settings = Settings(workspace=tmp_path / "ws", network_preset="small", bus_url="memory://")
    inst, ops = Actor("acme", "installer"), Actor("ops", "operator")
    with open_runtime(settings) as rt:  # registered before the 2030.5 server runs
        points = [ld.id for ld in rt.network.loads]
        aggs = AggregatorRegistry(
            SqlAggregatorRepository(rt.store.engine), rt.store.ders, SystemClock()
        )
        aggs.add(parse_aggregator({"id": "aggA", "lfdi": pki.identities["aggA"].lfdi}), ops)
        regs = [
            body("S-1", points[0], device_lfdi=pki.identities["inverter1"].lfdi),
            body("S-2", points[1], device_lfdi=pki.identities["inverter2"].lfdi),
            body("S-3", points[2]),  # direct, no LFDI: not served
            body("S-4", points[3], comm_path="aggregator", aggregator_id="aggA"),
        ]
        ids = [rt.service.register(parse_registration(b), inst).id for b in regs]
        rt.service.act(ids[1], "suspend", ops)
    sep = SepOptions(port=0, cert=pki.server.cert, key=pki.server.key, ca=pki.ca)

    async def scenario() -> None:
        async with open_serving(settings, "127.0.0.1", 0, sep) as s:
            assert sorted(s.mapping.end_device_of) == [ids[0], ids[3]]
            async with (
                sep_client(s, pki, "inverter1") as one,
                sep_client(s, pki, "inverter2") as two,
            ):
                assert await lfdis(one) == [pki.identities["inverter1"].lfdi.upper()]
                assert (await two.get("/edev")).status_code == 403  # suspended
            async with sep_client(s, pki, "aggA") as a:
                assert await lfdis(a) == [managed_identity(ids[3]).lfdi.upper()]

    asyncio.run(scenario())


def node_fsas(services: Ieee2030_5Services, identity: ClientIdentity) -> set[str]:
    """The topology-node FSAs the identity's EndDevice has (its own ``edev-N`` aside)."""
    edevs = services.end_devices
    client = edevs.client(identity)
    [edev], _ = edevs.page(client, Page(limit=5))
    _, fsas = services.fsas.of(client, edev.id)
    return {f.description for f in fsas if not f.description.startswith("edev-")}


def test_an_update_that_changes_the_lfdi_node_or_decision_moves_its_access(
    tmp_path: Path,
) -> None:
    """What ``RegistrySync.der_changed`` does after each event (the bus aside), seen through
    the server's internal API."""
    settings = Settings(workspace=tmp_path / "ws", network_preset="small")
    old, new = ClientIdentity.from_lfdi("1" * 40), ClientIdentity.from_lfdi("2" * 40)
    never = ClientIdentity.from_lfdi("3" * 40)
    huge = {"p_export_kw": 9000, "s_kva": 9000}
    ops = Actor("ops", "operator")
    with open_runtime(settings) as rt:
        services = build_services(rt.store.engine)
        try:
            sync = RegistrySync(services, rt.store.ders, dict)
            sync.start()
            edevs = services.end_devices
            sp = rt.network.loads[0].id
            reg = parse_registration(body("U-1", sp, device_lfdi=old.lfdi))
            rec = rt.service.register(reg, ops)
            assert rec.provisioning is not None
            assert sync.der_changed(rec.id) == "mapped"
            assert node_fsas(services, old) == {rec.provisioning.topology_node_id}

            reg = parse_registration(body("U-1", sp, device_lfdi=new.lfdi))
            moved = rt.service.update(rec.id, reg, ops, rec.version)
            assert sync.der_changed(rec.id) == "mapped"
            assert not edevs.access_granted(old)  # the replaced certificate is cut off
            assert node_fsas(services, new) == {rec.provisioning.topology_node_id}

            far = rt.network.loads[-1].id  # another topology node
            reg = parse_registration(body("U-1", far, device_lfdi=new.lfdi))
            there = rt.service.update(rec.id, reg, ops, moved.version)
            assert there.provisioning is not None
            assert there.provisioning.topology_node_id != rec.provisioning.topology_node_id
            assert sync.der_changed(rec.id) == "mapped"
            assert node_fsas(services, new) == {there.provisioning.topology_node_id}

            reg = parse_registration(body("U-1", sp, device_lfdi=new.lfdi, nameplate=huge))
            refused = rt.service.update(rec.id, reg, ops, there.version)
            assert refused.status == "rejected"
            assert sync.der_changed(rec.id) == "unmapped"
            assert not edevs.access_granted(new)

            reg = parse_registration(body("U-2", sp, device_lfdi=never.lfdi, nameplate=huge))
            other = rt.service.register(reg, ops)
            assert other.status == "rejected"
            sync.der_changed(other.id)
            assert not edevs.access_granted(never)  # refused, never served
        finally:
            services.close()
