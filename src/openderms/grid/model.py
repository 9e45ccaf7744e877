"""The engine-neutral network model: typed, immutable tables with units in every name.

One ``Network`` holds a substation's (or an imported feeder's) electrical model. Each power-flow
engine's own model (power-grid-model arrays, an OpenDSS script) is generated from it, so a
switching action is a cheap ``replace`` followed by regeneration.

Conventions (DESIGN.md):
- Units in names: ``_kv`` kilovolt, ``_kw`` kilowatt, ``_kvar``, ``_kva``, ``_kwh``, ``_pct``,
  ``_pu``, ``_ohm_per_km``, ``_nf_per_km`` (shunt capacitance, nanofarad per km), ``_a`` ampere.
- Sign: a ``Der``'s ``p_kw``/``q_kvar`` are in generator convention (positive = export to the
  grid); a ``Load``'s are in load convention (positive = consumed).
- Nodes: each terminal names the conductors it touches with OpenDSS-style node numbers (1, 2, 3
  are phases A, B, C; 0 is ground; 4 and up are neutrals or other conductors). A three-phase
  terminal is ``(1, 2, 3)``; a single-phase line on phase B is ``(2,)``.
- Matrices are row-major tuples of rows, ``n x n`` for an ``n``-conductor branch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

Conn = Literal["wye", "delta"]
LoadModel = Literal[
    "constant_power", "constant_impedance", "constant_current", "zip", "exponential"
]
DerKind = Literal["pv", "battery", "ev_charger", "generator", "flexible_load", "other"]
TransformerKind = Literal["substation", "service", "regulator", "other"]
Matrix = tuple[tuple[float, ...], ...]
Nodes = tuple[int, ...]

PHASES_ABC: Nodes = (1, 2, 3)


@dataclass(frozen=True, slots=True)
class Bus:
    """A connection point. ``v_base_kv_ln`` is the line-to-neutral voltage base of its phases."""

    id: str
    v_base_kv_ln: float
    v_min_pu: float = 0.95
    v_max_pu: float = 1.05
    x: float | None = None
    y: float | None = None


@dataclass(frozen=True, slots=True)
class Source:
    """The upstream grid (a Thevenin source): voltage set point and short-circuit impedance."""

    id: str
    bus: str
    v_base_kv_ll: float
    v_pu: float = 1.0
    angle_deg: float = 0.0
    r1_ohm: float = 0.0
    x1_ohm: float = 0.001
    r0_ohm: float = 0.0
    x0_ohm: float = 0.001
    nodes: Nodes = PHASES_ABC


@dataclass(frozen=True, slots=True)
class Line:
    """An overhead line or cable with per-conductor impedance matrices per km."""

    id: str
    bus1: str
    bus2: str
    nodes1: Nodes
    nodes2: Nodes
    length_km: float
    r_ohm_per_km: Matrix
    x_ohm_per_km: Matrix
    c_nf_per_km: Matrix
    ampacity_a: float
    emergency_a: float | None = None
    kind: Literal["overhead", "cable"] = "overhead"

    @property
    def n_conductors(self) -> int:
        return len(self.nodes1)


@dataclass(frozen=True, slots=True)
class Switch:
    """A breaker, recloser, sectionaliser or tie switch; ``closed`` is its present state.

    ``r_ohm``/``x_ohm`` are the series impedance per phase when closed (0 = ideal; switches in
    OpenDSS feeders carry about 1 milliohm, which engines may honour or neglect).
    """

    id: str
    bus1: str
    bus2: str
    nodes1: Nodes
    nodes2: Nodes
    closed: bool
    normally_closed: bool = True
    ampacity_a: float = 600.0
    kind: Literal["breaker", "recloser", "sectionaliser", "tie", "fuse", "switch"] = "switch"
    r_ohm: float = 0.0
    x_ohm: float = 0.0


@dataclass(frozen=True, slots=True)
class Winding:
    """One winding of a transformer: its bus, rated voltage, rating, resistance and tap."""

    bus: str
    nodes: Nodes
    conn: Conn
    v_kv: float
    s_kva: float
    r_pct: float
    tap_pu: float = 1.0
    tap_min_pu: float = 0.9
    tap_max_pu: float = 1.1
    tap_steps: int = 32


@dataclass(frozen=True, slots=True)
class Transformer:
    """A transformer with two or three windings; ``x_pct`` is (XHL,) or (XHL, XHT, XLT)."""

    id: str
    phases: int
    windings: tuple[Winding, ...]
    x_pct: tuple[float, ...]
    noload_loss_pct: float = 0.0
    imag_pct: float = 0.0
    kind: TransformerKind = "other"
    emergency_kva: float | None = None

    @property
    def s_kva(self) -> float:
        return self.windings[0].s_kva


@dataclass(frozen=True, slots=True)
class Regulator:
    """Automatic tap control of one winding of a transformer (line-drop compensation)."""

    id: str
    transformer: str
    winding: int
    v_set_v: float  # on the PT secondary (e.g. 120 V base)
    band_v: float
    pt_ratio: float
    ct_primary_a: float = 300.0
    r_ldc_v: float = 0.0
    x_ldc_v: float = 0.0
    pt_phase: int = 1
    max_tap_change: int = 16
    reversible: bool = False


@dataclass(frozen=True, slots=True)
class Capacitor:
    """A shunt capacitor bank; ``q_kvar`` is its total rating at ``v_kv``."""

    id: str
    bus: str
    nodes: Nodes
    conn: Conn
    q_kvar: float
    v_kv: float
    closed: bool = True


@dataclass(frozen=True, slots=True)
class Reactor:
    """A series reactor (``bus2`` set) or a shunt reactor (``bus2`` None); impedance per phase."""

    id: str
    bus1: str
    nodes1: Nodes
    r_ohm: float
    x_ohm: float
    bus2: str | None = None
    nodes2: Nodes = ()
    conn: Conn = "wye"
    ampacity_a: float = 400.0


@dataclass(frozen=True, slots=True)
class Load:
    """A load at nominal voltage ``v_kv`` (line-to-line for 3-phase, winding for 1-phase).

    ``p_kw``/``q_kvar`` are in load convention (positive = consumed) and are the values at
    the model's operating point; time series scale them. ``model="exponential"`` (OpenDSS
    model 4, CVR): P = p_kw * v**p_exponent and Q = q_kvar * v**q_exponent (v in pu of
    ``v_kv``); the exponents are ignored by the other models.
    """

    id: str
    bus: str
    nodes: Nodes
    conn: Conn
    p_kw: float
    q_kvar: float
    v_kv: float
    model: LoadModel = "constant_power"
    zip_coeffs: tuple[float, ...] = ()
    v_min_pu: float = 0.95
    v_max_pu: float = 1.05
    customers: int = 1
    p_exponent: float = 1.0
    q_exponent: float = 2.0


@dataclass(frozen=True, slots=True)
class Der:
    """A DER connection point.

    ``p_kw``/``q_kvar`` are the present output in generator convention (positive = export to
    the grid; a charging battery or EV charger has negative ``p_kw``). ``p_max_kw`` is the AC
    export rating, ``p_min_kw`` the largest import (negative or zero), ``s_kva`` the inverter
    rating and ``e_kwh`` the storage energy (0 for none).
    """

    id: str
    bus: str
    nodes: Nodes
    kind: DerKind
    p_kw: float
    q_kvar: float
    p_max_kw: float
    s_kva: float
    v_kv: float
    p_min_kw: float = 0.0
    e_kwh: float = 0.0
    conn: Conn = "wye"


@dataclass(frozen=True, slots=True)
class Feeder:
    """A feeder: the branch leaving the substation bus (its head breaker) and a name."""

    id: str
    head: str  # id of the switch or line at the feeder head


Element = Source | Line | Switch | Transformer | Regulator | Capacitor | Reactor | Load | Der


@dataclass(frozen=True, slots=True)
class Network:
    """A whole network model. Immutable: change it with ``dataclasses.replace`` or helpers."""

    name: str
    frequency_hz: float = 60.0
    buses: tuple[Bus, ...] = ()
    sources: tuple[Source, ...] = ()
    lines: tuple[Line, ...] = ()
    switches: tuple[Switch, ...] = ()
    transformers: tuple[Transformer, ...] = ()
    regulators: tuple[Regulator, ...] = ()
    capacitors: tuple[Capacitor, ...] = ()
    reactors: tuple[Reactor, ...] = ()
    loads: tuple[Load, ...] = ()
    ders: tuple[Der, ...] = ()
    feeders: tuple[Feeder, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def elements(self) -> Iterator[tuple[str, Element]]:
        """Every element with its kind name (``"line"``, ``"load"``, ...)."""
        for kind, table in TABLES.items():
            for el in getattr(self, table):
                yield kind, el

    def summary(self) -> dict[str, int]:
        """Element counts by table name."""
        return {table: len(getattr(self, table)) for table in ("buses", *TABLES.values())}


#: element kind -> name of the Network table holding it (buses excluded: they are not elements)
TABLES: dict[str, str] = {
    "source": "sources",
    "line": "lines",
    "switch": "switches",
    "transformer": "transformers",
    "regulator": "regulators",
    "capacitor": "capacitors",
    "reactor": "reactors",
    "load": "loads",
    "der": "ders",
}


def with_switch_state(net: Network, switch_id: str, closed: bool) -> Network:
    """Return ``net`` with one switch opened or closed (raises ``UnknownElementError``)."""
    from openderms.errors import UnknownElementError

    for i, sw in enumerate(net.switches):
        if sw.id == switch_id:
            switches = list(net.switches)
            switches[i] = dataclasses.replace(sw, closed=closed)
            return dataclasses.replace(net, switches=tuple(switches))
    raise UnknownElementError("switch", switch_id)


def branch_buses(net: Network) -> Iterator[tuple[str, str, str, str]]:
    """Every two-terminal connection as ``(kind, id, bus_a, bus_b)``.

    Transformers yield one pair per winding beyond the first (winding 1 to winding k). Switches
    are yielded whatever their state; callers filter on ``closed``.
    """
    for ln in net.lines:
        yield "line", ln.id, ln.bus1, ln.bus2
    for sw in net.switches:
        yield "switch", sw.id, sw.bus1, sw.bus2
    for tr in net.transformers:
        for w in tr.windings[1:]:
            yield "transformer", tr.id, tr.windings[0].bus, w.bus
    for rx in net.reactors:
        if rx.bus2 is not None:
            yield "reactor", rx.id, rx.bus1, rx.bus2
