"""Network validation: every problem, each naming the element, the field and the value.

``validate_network(net)`` returns all issues (empty when the model is sound);
``check_network(net)`` raises ``NetworkValidationError`` carrying them. Connectivity is judged
with every switch closed: a part de-energised by an open switch is an operating state, a part
that no switch position can feed is a modelling error.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator

from openderms.errors import NetworkValidationError, ValidationIssue
from openderms.grid.model import TABLES, Element, Matrix, Network
from openderms.grid.topology import derive_topology

Issue = ValidationIssue


def check_network(net: Network) -> None:
    """Raise ``NetworkValidationError`` listing every issue of ``net``; return if none."""
    issues = validate_network(net)
    if issues:
        raise NetworkValidationError(issues)


def validate_network(net: Network) -> tuple[Issue, ...]:
    """Every issue found in ``net`` (duplicates, dangling buses, bad ratings, unfed islands)."""
    issues: list[Issue] = []
    bus_ids = {b.id for b in net.buses}
    issues += _duplicates("bus", (b.id for b in net.buses))
    for kind, table in _tables(net):
        issues += _duplicates(kind, (el.id for el in table))
    issues += _buses(net)
    issues += _references(net, bus_ids)
    issues += _ratings(net)
    if not net.sources:
        issues.append(Issue("network", net.name, "sources", 0, "at least one source"))
    if not issues:
        issues += _unfed_islands(net)
    return tuple(issues)


def _tables(net: Network) -> Iterator[tuple[str, tuple[Element, ...]]]:
    for kind, table in TABLES.items():
        yield kind, getattr(net, table)


def _duplicates(kind: str, ids: Iterable[str]) -> list[Issue]:
    seen: set[str] = set()
    out = []
    for i in ids:
        if i in seen:
            out.append(Issue(kind, i, "id", i, "a unique id"))
        seen.add(i)
    return out


def _buses(net: Network) -> list[Issue]:
    out = []
    for b in net.buses:
        if not (b.v_base_kv_ln > 0 and math.isfinite(b.v_base_kv_ln)):
            out.append(Issue("bus", b.id, "v_base_kv_ln", b.v_base_kv_ln, "a positive voltage"))
        if not (0 < b.v_min_pu < b.v_max_pu < 2):
            out.append(
                Issue(
                    "bus", b.id, "v_min_pu/v_max_pu", (b.v_min_pu, b.v_max_pu), "0 < min < max < 2"
                )
            )
    return out


def _references(net: Network, bus_ids: set[str]) -> list[Issue]:
    out: list[Issue] = []

    def need(kind: str, el_id: str, fld: str, bus: str | None) -> None:
        if bus is not None and bus not in bus_ids:
            out.append(Issue(kind, el_id, fld, bus, "the id of a bus in the model"))

    for s in net.sources:
        need("source", s.id, "bus", s.bus)
    for ln in net.lines:
        need("line", ln.id, "bus1", ln.bus1)
        need("line", ln.id, "bus2", ln.bus2)
    for sw in net.switches:
        need("switch", sw.id, "bus1", sw.bus1)
        need("switch", sw.id, "bus2", sw.bus2)
    for tr in net.transformers:
        for k, w in enumerate(tr.windings):
            need("transformer", tr.id, f"windings[{k}].bus", w.bus)
    for rx in net.reactors:
        need("reactor", rx.id, "bus1", rx.bus1)
        need("reactor", rx.id, "bus2", rx.bus2)
    for c in net.capacitors:
        need("capacitor", c.id, "bus", c.bus)
    for ld in net.loads:
        need("load", ld.id, "bus", ld.bus)
    for d in net.ders:
        need("der", d.id, "bus", d.bus)
    transformers = {t.id: t for t in net.transformers}
    for rg in net.regulators:
        found = transformers.get(rg.transformer)
        if found is None:
            out.append(Issue("regulator", rg.id, "transformer", rg.transformer, "a transformer id"))
        elif not 1 <= rg.winding <= len(found.windings):
            out.append(
                Issue("regulator", rg.id, "winding", rg.winding, f"1..{len(found.windings)}")
            )
    branch_ids = {s.id for s in net.switches} | {ln.id for ln in net.lines}
    for f in net.feeders:
        if f.head not in branch_ids:
            out.append(Issue("feeder", f.id, "head", f.head, "the id of a switch or line"))
    return out


def _positive(kind: str, el_id: str, fld: str, value: float) -> list[Issue]:
    if value > 0 and math.isfinite(value):
        return []
    return [Issue(kind, el_id, fld, value, "a positive finite number")]


def _square(kind: str, el_id: str, fld: str, m: Matrix, n: int) -> list[Issue]:
    if len(m) != n or any(len(row) != n for row in m):
        return [Issue(kind, el_id, fld, f"{len(m)} rows", f"a {n}x{n} matrix")]
    if not all(math.isfinite(v) for row in m for v in row):
        return [Issue(kind, el_id, fld, "non-finite entry", "finite numbers")]
    return []


def _ratings(net: Network) -> list[Issue]:
    out: list[Issue] = []
    for ln in net.lines:
        n = len(ln.nodes1)
        if len(ln.nodes2) != n:
            out.append(Issue("line", ln.id, "nodes2", ln.nodes2, f"{n} nodes like nodes1"))
        out += _positive("line", ln.id, "length_km", ln.length_km)
        out += _positive("line", ln.id, "ampacity_a", ln.ampacity_a)
        for fld in ("r_ohm_per_km", "x_ohm_per_km", "c_nf_per_km"):
            out += _square("line", ln.id, fld, getattr(ln, fld), n)
        if any(ln.r_ohm_per_km[i][i] < 0 for i in range(min(n, len(ln.r_ohm_per_km)))):
            out.append(Issue("line", ln.id, "r_ohm_per_km", "negative diagonal", ">= 0"))
    for sw in net.switches:
        out += _positive("switch", sw.id, "ampacity_a", sw.ampacity_a)
        if len(sw.nodes1) != len(sw.nodes2):
            out.append(Issue("switch", sw.id, "nodes2", sw.nodes2, "as many nodes as nodes1"))
    for tr in net.transformers:
        if len(tr.windings) < 2:
            out.append(Issue("transformer", tr.id, "windings", len(tr.windings), ">= 2 windings"))
        expected_x = 1 if len(tr.windings) == 2 else 3
        if len(tr.x_pct) != expected_x:
            out.append(Issue("transformer", tr.id, "x_pct", tr.x_pct, f"{expected_x} values"))
        out += [
            i
            for k, w in enumerate(tr.windings)
            for fld, v in (("s_kva", w.s_kva), ("v_kv", w.v_kv))
            for i in _positive("transformer", tr.id, f"windings[{k}].{fld}", v)
        ]
    for c in net.capacitors:
        out += _positive("capacitor", c.id, "v_kv", c.v_kv)
        if c.q_kvar < 0:
            out.append(Issue("capacitor", c.id, "q_kvar", c.q_kvar, ">= 0"))
    for ld in net.loads:
        out += _positive("load", ld.id, "v_kv", ld.v_kv)
        for fld in ("p_kw", "q_kvar"):
            if not math.isfinite(getattr(ld, fld)):
                out.append(Issue("load", ld.id, fld, getattr(ld, fld), "a finite number"))
    for d in net.ders:
        out += _positive("der", d.id, "s_kva", d.s_kva)
        out += _positive("der", d.id, "v_kv", d.v_kv)
        if d.p_max_kw < 0:
            out.append(Issue("der", d.id, "p_max_kw", d.p_max_kw, ">= 0 (export rating)"))
        if d.p_min_kw > 0:
            out.append(Issue("der", d.id, "p_min_kw", d.p_min_kw, "<= 0 (import rating)"))
        if d.e_kwh < 0:
            out.append(Issue("der", d.id, "e_kwh", d.e_kwh, ">= 0"))
    return out


def _unfed_islands(net: Network) -> list[Issue]:
    all_closed = dataclasses.replace(
        net, switches=tuple(dataclasses.replace(s, closed=True) for s in net.switches)
    )
    topo = derive_topology(all_closed)
    out = []
    reported: set[int] = set()
    for b, energised in zip(topo.bus_ids, topo.energised.tolist(), strict=True):
        isl = int(topo.island[topo.bus_index[b]])
        if not energised and isl not in reported:
            reported.add(isl)
            size = int((topo.island == isl).sum())
            out.append(
                Issue("bus", b, "island", f"{size} bus(es) with no path to a source", "connected")
            )
    return out
