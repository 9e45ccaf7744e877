"""Shared state of one import: the compiled circuit, element terminals, findings.

``Reader`` lives for one ``import_dss`` call only; its lists collect what the importer could
not represent (``unsupported``), what has no power-flow effect (``ignored``) and approximations
worth knowing (``notes``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from openderms.grid.model import Conn, Nodes
from openderms.grid.opendss._dss import parse_bus_spec


@dataclass(frozen=True, slots=True)
class Terminals:
    """One circuit element as OpenDSS compiled it: names, state and conductors per terminal."""

    full_name: str  # "Line.650632"
    cls: str  # lower-case class name, "line"
    name: str  # lower-case element name, "650632"
    enabled: bool
    n_phases: int
    n_conductors: int
    buses: tuple[str, ...]
    nodes: tuple[Nodes, ...]


@dataclass(slots=True)
class Reader:
    """The circuit being imported and what the import found so far."""

    circuit: Any
    unsupported: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: bus -> line-to-neutral kV hints from element ratings, for buses without a kV base
    kv_hints: dict[str, float] = field(default_factory=dict)
    #: approximations made for many elements alike: message -> how many
    tallies: Counter[str] = field(default_factory=Counter)
    #: concentric-neutral / tape-shielded cable data, and line geometries built from them
    cable_names: frozenset[str] = frozenset()
    cable_geometries: frozenset[str] = frozenset()

    def terminals(self, full_name: str) -> Terminals:
        """Activate ``full_name`` and describe its terminals."""
        c = self.circuit
        c.SetActiveElement(full_name)
        e = c.ActiveCktElement
        cls, _, name = full_name.partition(".")
        enabled = bool(e.Enabled)
        n_cond = int(e.NumConductors)
        n_ph = int(e.NumPhases)
        specs = [str(s) for s in e.BusNames]
        buses = tuple(s.split(".")[0].lower() for s in specs)
        if enabled:
            order = [int(n) for n in e.NodeOrder]
            nodes = tuple(tuple(order[k * n_cond : (k + 1) * n_cond]) for k in range(len(specs)))
        else:
            default_ph = n_cond if cls.lower() == "line" else n_ph
            nodes = tuple(parse_bus_spec(s, n_cond, default_ph)[1] for s in specs)
        return Terminals(full_name, cls.lower(), name.lower(), enabled, n_ph, n_cond, buses, nodes)

    def prop(self, name: str) -> str:
        """A property of the active element as OpenDSS prints it."""
        return str(self.circuit.ActiveCktElement.Properties(name).Val)

    def prop_float(self, name: str, default: float = 0.0) -> float:
        try:
            return float(self.prop(name))
        except ValueError:
            return default

    def unsupported_element(self, full_name: str, reason: str) -> None:
        self.unsupported.append(f"{full_name}: {reason}")

    def all_notes(self) -> tuple[str, ...]:
        """The notes, then one line per tallied approximation."""
        return (*self.notes, *(f"{n} x {message}" for message, n in self.tallies.items()))

    def hint_kv(self, bus: str, kv_ln: float) -> None:
        if kv_ln > 0.0:
            self.kv_hints.setdefault(bus, kv_ln)


def shunt_nodes(t: Terminals, conn: Conn) -> tuple[Conn, Nodes] | None:
    """Connection and nodes of a shunt element (load, DER), normalised.

    Wye: the phase conductors, the neutral grounded (node 0) implicitly; a single-phase wye
    element whose "neutral" is another conductor (a 240 V load on a split-phase service,
    ``bus.1.2``) becomes the identical single-phase delta between the two nodes; a
    three-phase wye with its neutral on node k > 0 keeps it as a fourth node. Delta: the
    phase conductors (two nodes for a single-phase delta). ``None`` if not representable
    (two-phase delta, two-phase wye with an ungrounded neutral).
    """
    cond = t.nodes[0]
    ph = t.n_phases
    if conn == "delta":
        if ph == 2:
            return None
        return "delta", tuple(cond[:2] if ph == 1 else cond[:ph])
    phase_nodes = tuple(cond[:ph])
    neutral = cond[ph] if len(cond) > ph else 0
    if neutral == 0:
        return "wye", phase_nodes
    if ph == 1:
        return "delta", (phase_nodes[0], neutral)
    if ph == 3:
        return "wye", (*phase_nodes, neutral)
    return None


def winding_nodes(cond: Nodes, n_phases: int, conn: Conn) -> Nodes:
    """Nodes of one transformer winding: phase conductors, then the neutral if not ground.

    A single-phase delta winding keeps both of its conductors (it sits between them).
    """
    if conn == "delta":
        return tuple(cond[:2] if n_phases == 1 else cond[:n_phases])
    neutral = cond[n_phases] if len(cond) > n_phases else 0
    return tuple(cond[:n_phases]) + ((neutral,) if neutral != 0 else ())


def phases_of(nodes: Nodes, conn: Conn) -> int:
    """Inverse of ``shunt_nodes``: the OpenDSS phase count of a shunt element's nodes."""
    if conn == "delta":
        return 1 if len(nodes) == 2 else len(nodes)
    return 3 if len(nodes) == 4 else len(nodes)
