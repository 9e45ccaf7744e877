"""Import an OpenDSS model into the engine-neutral ``Network``.

``import_dss(path)`` compiles the file in a private OpenDSS engine (dss-python), solves one
snapshot so that regulators and capacitor controls settle and bus voltage bases exist, then
reads the *compiled* circuit through the API. Line codes, geometries, spacings, wire data and
transformer codes are therefore already resolved; taps and capacitor states are the solved ones.

Mapping (ids are the lower-case names OpenDSS reports):

- ``Line`` -> ``Line`` (impedance per km from the compiled matrices, any length unit);
  ``Switch=yes`` lines -> ``Switch``; a line that is disabled (``enabled=no``) or open at a
  terminal -> an *open* ``Switch`` (a note says so when it was not a switch).
- ``Transformer`` (2 or 3 windings, ``XfmrCode`` resolved) -> ``Transformer``;
  ``RegControl`` -> ``Regulator`` (1-based ``winding``; ``pt_phase`` -1 = MAX, -2 = MIN).
- ``Capacitor`` -> ``Capacitor`` in its solved state; ``CapControl`` is *unsupported* (no
  automatic switching in the model) but its effect, the capacitor state, is kept.
- ``Reactor`` -> ``Reactor``; ``Load`` -> ``Load``; ``Generator``/``PVSystem``/``Storage`` ->
  ``Der``; ``Vsource`` -> ``Source`` with R1/X1/R0/X0 in ohm.
- Meters (EnergyMeter, Monitor, Sensor) and disabled elements -> ``ignored``; an EnergyMeter
  on a line also names a ``Feeder``.
- Anything else (protection, inverter controls, faults, current sources...) -> ``unsupported``
  with the reason. Nothing is dropped silently.

Signs: loads in load convention at the operating point (load multiplier applied), DER in
generator convention (positive = export) at their solved output.

The file runs as in OpenDSS: report commands in it (``Show``, ``Export``) write their files
next to it. A file whose own solve ends with "max control iterations exceeded" is imported
with a note (OpenDSS stops reading the file there).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from openderms.grid.model import (
    Feeder,
    Network,
    Switch,
)
from openderms.grid.opendss._branches import (
    SwitchKind,
    read_line,
    read_reactor,
    read_regcontrol,
    read_transformer,
)
from openderms.grid.opendss._buses import Tables, read_buses
from openderms.grid.opendss._dss import DSSException, compile_and_solve, new_context
from openderms.grid.opendss._elements import Reader
from openderms.grid.opendss._shunts import (
    DER_KINDS,
    read_capacitor,
    read_der,
    read_load,
    read_vsource,
)

METER_CLASSES = frozenset({"energymeter", "monitor", "sensor", "fmonitor"})
PROTECTION_KINDS: tuple[tuple[str, SwitchKind], ...] = (
    ("fuse", "fuse"),
    ("recloser", "recloser"),
    ("relay", "breaker"),
    ("swtcontrol", "switch"),
)
DER_CLASSES = frozenset(cls for cls, _ in DER_KINDS)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ImportReport:
    """The imported network and what was not (or need not be) represented.

    ``unsupported`` and ``ignored`` entries read ``"Class.name: reason"``; approximations of
    mapped elements are in ``network.notes``. ``file`` is the resolved path, ``import_s`` the
    wall time of the import (compile, solve, read).
    """

    network: Network
    unsupported: tuple[str, ...]
    ignored: tuple[str, ...]
    file: str = ""
    import_s: float = 0.0


def import_dss(path: str | Path) -> ImportReport:
    """Import the OpenDSS model in ``path`` (raises ``ModelImportError`` if it does not compile)."""
    started = time.perf_counter()
    file = Path(path).expanduser().resolve()
    ctx = new_context()
    warnings = compile_and_solve(ctx, file)
    c = ctx.ActiveCircuit
    cables = frozenset(str(n).lower() for n in (*c.CNData.AllNames, *c.TSData.AllNames))
    r = Reader(c, notes=warnings, cable_names=cables, cable_geometries=_geometries(c, cables))
    if not bool(c.Solution.Converged):
        r.notes.append("OpenDSS did not converge on the file's own snapshot solution")
    names = [str(n) for n in c.AllElementNames]
    tables = Tables([], [], [], [], [], [], [], [], [])
    switch_kinds = _read_controls(r, names, tables)
    regulated = _regulated_transformers(c)
    load_mult = float(c.Solution.LoadMult)
    for full in names:
        cls = full.partition(".")[0].lower()
        if cls in METER_CLASSES or cls == "regcontrol" or cls in _CONTROL_CLASSES:
            continue
        if cls not in _PHYSICAL_CLASSES:
            r.unsupported_element(full, f"OpenDSS class {cls!r} is not represented")
            continue
        t = r.terminals(full)
        if not t.enabled and cls != "line":
            r.ignored.append(f"{full}: disabled")
            continue
        if cls == "line":
            el = read_line(r, t, switch_kinds)
            if isinstance(el, Switch):
                tables.switches.append(el)
            else:
                tables.lines.append(el)
        elif cls == "transformer":
            _add(tables.transformers, read_transformer(r, t, regulated))
        elif cls == "vsource":
            _add(tables.sources, read_vsource(r, t))
        elif cls == "load":
            _add(tables.loads, read_load(r, t, load_mult))
        elif cls == "capacitor":
            _add(tables.capacitors, read_capacitor(r, t))
        elif cls == "reactor":
            _add(tables.reactors, read_reactor(r, t))
        else:
            _add(tables.ders, read_der(r, t))
    _unique_der_ids(tables)
    feeders = _feeders(r, names, tables)
    buses = read_buses(r, tables)
    network = Network(
        name=str(c.Name),
        frequency_hz=float(c.Solution.Frequency),
        buses=buses,
        sources=tuple(tables.sources),
        lines=tuple(tables.lines),
        switches=tuple(tables.switches),
        transformers=tuple(tables.transformers),
        regulators=tuple(tables.regulators),
        capacitors=tuple(tables.capacitors),
        reactors=tuple(tables.reactors),
        loads=tuple(tables.loads),
        ders=tuple(tables.ders),
        feeders=feeders,
        notes=r.all_notes(),
    )
    return ImportReport(
        network=network,
        unsupported=tuple(r.unsupported),
        ignored=tuple(r.ignored),
        file=str(file),
        import_s=time.perf_counter() - started,
    )


_PHYSICAL_CLASSES = frozenset(
    {"line", "transformer", "vsource", "load", "capacitor", "reactor", *DER_CLASSES}
)
_CONTROL_CLASSES = frozenset(
    {
        "capcontrol",
        "swtcontrol",
        "fuse",
        "recloser",
        "relay",
        "invcontrol",
        "expcontrol",
        "storagecontroller",
        "gendispatcher",
        "upfccontrol",
        "esppvlcontrol",
    }
)


def _add(table: list[T], element: T | None) -> None:
    if element is not None:
        table.append(element)


def _read_controls(r: Reader, names: list[str], tables: Tables) -> dict[str, SwitchKind]:
    """Regulators into ``tables``; other controls, meters reported; switch kinds by line."""
    c = r.circuit
    kinds: dict[str, SwitchKind] = {}
    protection = dict(PROTECTION_KINDS)
    for full in names:
        cls = full.partition(".")[0].lower()
        if cls != "regcontrol" and cls not in METER_CLASSES and cls not in _CONTROL_CLASSES:
            continue
        c.SetActiveElement(full)
        if not bool(c.ActiveCktElement.Enabled):
            r.ignored.append(f"{full}: disabled")
        elif cls in METER_CLASSES:
            r.ignored.append(f"{full}: measurement only, no power-flow effect")
        elif cls == "regcontrol":
            _add(tables.regulators, read_regcontrol(r, full))
        elif cls == "capcontrol":
            c.CapControls.Name = full.partition(".")[2]
            r.unsupported_element(
                full,
                "automatic capacitor switching is not modelled; "
                f"Capacitor.{c.CapControls.Capacitor!s} imported in its solved state",
            )
        elif cls in protection:
            target = _switched_object(r)
            if target.startswith("line."):
                kinds[target.partition(".")[2]] = protection[cls]
            r.unsupported_element(
                full,
                f"{cls} logic is not modelled; {target or 'its element'} imported in its "
                "present state",
            )
        else:
            r.unsupported_element(
                full, "control not modelled; controlled elements imported at their solved output"
            )
    return kinds


def _geometries(c: Any, cables: frozenset[str]) -> frozenset[str]:
    """Line geometries with at least one cable among their conductors."""
    geometries = c.LineGeometries
    out: set[str] = set()
    i = geometries.First
    while i:
        if cables & {str(w).lower() for w in geometries.Conductors}:
            out.add(str(geometries.Name).lower())
        i = geometries.Next
    return frozenset(out)


def _regulated_transformers(c: Any) -> set[str]:
    """Transformers an enabled RegControl acts on (also those we cannot import as regulators)."""
    out: set[str] = set()
    regs = c.RegControls
    i = regs.First
    while i:
        out.add(str(regs.Transformer).lower())
        i = regs.Next
    return out


def _switched_object(r: Reader) -> str:
    for prop in ("SwitchedObj", "MonitoredObj", "element"):
        try:
            value = r.prop(prop).strip().lower()
        except DSSException:  # the property does not exist on this class
            continue
        if value:
            return value
    return ""


def _unique_der_ids(tables: Tables) -> None:
    """Generators, PV systems and storage may share a name in OpenDSS; ids may not."""
    seen: dict[str, int] = {}
    for d in tables.ders:
        seen[d.id] = seen.get(d.id, 0) + 1
    for i, d in enumerate(tables.ders):
        if seen[d.id] > 1:
            prefix = {"generator": "generator", "pv": "pvsystem", "battery": "storage"}[d.kind]
            tables.ders[i] = replace(d, id=f"{prefix}.{d.id}")


def _feeders(r: Reader, names: list[str], tables: Tables) -> tuple[Feeder, ...]:
    heads = {ln.id for ln in tables.lines} | {sw.id for sw in tables.switches}
    meters = r.circuit.Meters
    out: list[Feeder] = []
    for full in names:
        if full.partition(".")[0].lower() != "energymeter":
            continue
        meters.Name = full.partition(".")[2]
        cls, _, elem = str(meters.MeteredElement).lower().partition(".")
        if cls == "line" and elem in heads:
            out.append(Feeder(id=full.partition(".")[2].lower(), head=elem))
    return tuple(out)
