"""The live run's fleet: the twin's DER as registry records, and their simulated devices.

``twin_records``: every DER of the twin as a registry record, active and provisioned on its
topology node (an existing installation: no screening record), behind one of a few
aggregators except the first ``direct`` PV systems, which speak for themselves with their
own certificate. ``make_agents``: one ``DerAgent`` per DER on the TLS client of its own or
its aggregator's certificate, its PV (or storage schedule) held at the twin's noon times
``Sun.scale`` (a passing cloud lowers it).

Powers: registry in kW, agents in W; generator convention (positive = export).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx

from openderms.grid.model import Der, Network
from openderms.grid.topology import Topology
from openderms.grid.topology_nodes import group_ders
from openderms.registry.domain import (
    DerRecord,
    DerType,
    Inverter,
    Location,
    Nameplate,
    Provisioning,
    Registration,
)
from openderms.sim.fleet.agent import DerAgent
from openderms.sim.fleet.behaviour import Behaviour

#: read DefaultDERControls at every n-th poll (they change rarely)
DEFAULT_EVERY = 6
#: chance that one request of a device finds its network down (realistic habits)
LIVE_COMM_LOSS_P = 0.0003
DER_TYPE: dict[str, DerType] = {"pv": "pv", "battery": "battery", "ev_charger": "ev_charger"}


@dataclass
class Sun:
    """The share of its noon output every PV system can make now (1 = the twin's noon)."""

    scale: float = 1.0


@dataclass(frozen=True, slots=True)
class NoonAvailability:
    """A DER's available W: PV at its noon output times the sun's scale; storage and EV
    chargers keep their noon schedule (negative = charging)."""

    noon_w: float
    sun: Sun | None

    def __call__(self, _t_s: float) -> float:
        return self.noon_w * (self.sun.scale if self.sun is not None else 1.0)


def aggregator_names(n: int) -> list[str]:
    return [f"agg{i}" for i in range(n)]


def direct_ders(net: Network, n: int) -> list[str]:
    """The first ``n`` PV systems: they hold their own certificate."""
    return [d.id for d in net.ders if d.kind == "pv"][:n]


def twin_records(
    net: Network, topo: Topology, *, aggregators: int, direct: int, now: datetime
) -> list[DerRecord]:
    """The twin's DER as active, provisioned registry records (module docstring)."""
    own = set(direct_ders(net, direct))
    names = aggregator_names(aggregators)
    nodes = {d: (n.id, n.feeder) for n in group_ders(net, topo) for d in n.der_ids}
    out = []
    for i, d in enumerate(net.ders):
        node, feeder = nodes[d.id]
        agg = None if d.id in own or not names else names[i % len(names)]
        reg = Registration(
            der_type=DER_TYPE.get(d.kind, "other"),
            nameplate=Nameplate(
                p_export_kw=max(d.p_max_kw, 0.0),
                s_kva=max(d.s_kva, d.p_max_kw, 0.1),
                p_import_kw=max(-d.p_min_kw, 0.0),
                e_kwh=d.e_kwh,
            ),
            inverter=Inverter(make="twin", model=d.kind),
            location=Location(bus_id=d.bus),
            owner_name=f"customer at {d.bus}",
            owner_email="owner@example.invalid",
            application_id=f"twin-{d.id}",
            comm_path="aggregator" if agg else "ieee2030_5_direct",
            aggregator_id=agg,
        )
        prov = Provisioning(
            topology_node_id=node,
            feeder_id=feeder,
            programs=reg.programs,
            comm_path=reg.comm_path,
            der_program_id=f"derp-{node}",
            provisioned_at=now,
        )
        out.append(
            DerRecord(
                id=d.id,
                registration=reg,
                status="active",
                installer_id="twin",
                created_at=now,
                updated_at=now,
                provisioning=prov,
            )
        )
    return out


def behaviour_of(der: Der, rng: random.Random, realistic: bool) -> Behaviour:
    """Realistic habits (delays, partial delivery, a few ignoring or dropping out), or a
    device that applies every control within a second (tests)."""
    if realistic:
        # the fleet's habits, with losses of communication as rare per minute as in the field
        # (the live run polls and posts every few seconds, not every 5 to 15 minutes)
        return dataclasses.replace(Behaviour.realistic(rng), comm_loss_p=LIVE_COMM_LOSS_P)
    return Behaviour(delay_s=rng.uniform(0.0, 1.0))


def make_agents(
    net: Network,
    client_of: dict[str, httpx.AsyncClient],
    lfdi_of: dict[str, str],
    sun: Sun,
    *,
    realistic: bool,
    seed: int = 0,
) -> dict[str, DerAgent]:
    """DER id -> its agent, speaking through ``client_of[der_id]`` as ``lfdi_of[der_id]``."""
    rng = random.Random(seed)
    out = {}
    for d in net.ders:
        storage = d.kind != "pv"
        out[d.id] = DerAgent(
            client_of[d.id],
            lfdi_of[d.id],
            rated_w=max(d.p_max_kw, 0.0) * 1000.0,
            available=NoonAvailability(d.p_kw * 1000.0, None if storage else sun),
            behaviour=behaviour_of(d, rng, realistic),
            rng=random.Random(f"{seed}-{d.id}"),
            p_min_w=min(d.p_min_kw, 0.0) * 1000.0 if storage else 0.0,
            report_available=True,
            default_every=DEFAULT_EVERY,
        )
    return out


def ders_by_client(records: Sequence[DerRecord]) -> dict[str, list[str]]:
    """Client certificate name -> the DER it speaks for (an aggregator's, or a DER's own)."""
    out: dict[str, list[str]] = {}
    for r in records:
        out.setdefault(r.registration.aggregator_id or r.id, []).append(r.id)
    return out
