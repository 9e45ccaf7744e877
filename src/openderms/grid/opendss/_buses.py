"""Buses of an imported circuit: OpenDSS's bus list, kV bases and coordinates.

Open switches made from disabled lines can touch buses OpenDSS never created; those and any
bus without a kV base get one from a neighbour, an element rating or the usual base.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass

from openderms.grid.model import (
    Bus,
    Capacitor,
    Der,
    Line,
    Load,
    Reactor,
    Regulator,
    Source,
    Switch,
    Transformer,
)
from openderms.grid.opendss._elements import Reader


@dataclass(slots=True)
class Tables:
    """The element tables being filled by one import."""

    sources: list[Source]
    lines: list[Line]
    switches: list[Switch]
    transformers: list[Transformer]
    regulators: list[Regulator]
    capacitors: list[Capacitor]
    reactors: list[Reactor]
    loads: list[Load]
    ders: list[Der]


def read_buses(r: Reader, tables: Tables) -> tuple[Bus, ...]:
    """Every bus OpenDSS knows plus any only an imported (open) element touches.

    A bus without an OpenDSS kV base takes the base of a bus joined to it by lines or
    switches, else a base implied by an element rating there, else the network's most common
    base; a note counts them.
    """
    c = r.circuit
    settings = c.Settings
    v_min, v_max = float(settings.NormVminpu), float(settings.NormVmaxpu)
    base: dict[str, float] = {}
    xy: dict[str, tuple[float, float]] = {}
    for i, name in enumerate(str(n).lower() for n in c.AllBusNames):
        c.SetActiveBusi(i)
        bus = c.ActiveBus
        base[name] = float(bus.kVBase)
        if bool(bus.Coorddefined):
            xy[name] = (float(bus.x), float(bus.y))
    branches = [(ln.bus1, ln.bus2, ln.n_conductors) for ln in tables.lines]
    branches += [(sw.bus1, sw.bus2, len(sw.nodes1)) for sw in tables.switches]
    for a, b, _ in branches:
        base.setdefault(a, 0.0)
        base.setdefault(b, 0.0)
    for bus in _element_buses(tables):
        base.setdefault(bus, 0.0)
    missing = [b for b, kv in base.items() if kv <= 0.0]
    if missing:
        _fill_bases(base, branches, r.kv_hints)
        r.notes.append(
            f"{len(missing)} bus(es) had no OpenDSS kV base; bases taken from neighbours, "
            "element ratings, or the most common base of buses with as many conductors"
        )
    return tuple(
        Bus(
            id=b,
            v_base_kv_ln=kv,
            v_min_pu=v_min,
            v_max_pu=v_max,
            x=xy[b][0] if b in xy else None,
            y=xy[b][1] if b in xy else None,
        )
        for b, kv in base.items()
    )


def _fill_bases(
    base: dict[str, float], branches: list[tuple[str, str, int]], hints: dict[str, float]
) -> None:
    """Give every bus with no kV base (0) one, in place; see ``read_buses``."""
    neighbours: dict[str, list[str]] = {}
    width: dict[str, int] = {}
    for a, b, n in branches:
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
        width[a] = max(width.get(a, 0), n)
        width[b] = max(width.get(b, 0), n)
    missing = [b for b, kv in base.items() if kv <= 0.0]
    queue = deque(b for b, kv in base.items() if kv > 0.0)
    while queue:
        here = queue.popleft()
        for there in neighbours.get(here, ()):
            if base[there] <= 0.0:
                base[there] = base[here]
                queue.append(there)
    by_width: dict[int, Counter[float]] = {}
    for b, kv in base.items():
        if kv > 0.0:
            by_width.setdefault(width.get(b, 0), Counter())[kv] += 1
    overall = sum(by_width.values(), Counter[float]())
    for b in missing:
        if base[b] <= 0.0:
            usual = by_width.get(width.get(b, 0)) or overall or Counter({1.0: 1})
            base[b] = hints.get(b, usual.most_common(1)[0][0])


def _element_buses(tables: Tables) -> list[str]:
    out = [s.bus for s in tables.sources]
    out += [w.bus for tr in tables.transformers for w in tr.windings]
    out += [cp.bus for cp in tables.capacitors]
    out += [ld.bus for ld in tables.loads]
    out += [d.bus for d in tables.ders]
    out += [rx.bus1 for rx in tables.reactors]
    out += [rx.bus2 for rx in tables.reactors if rx.bus2 is not None]
    return out
