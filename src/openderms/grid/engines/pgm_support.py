"""What power-grid-model can represent: the checks behind ``PgmEngine.unsupported``.

power-grid-model (PGM) models three-phase elements only: every terminal must be exactly the
phases ``(1, 2, 3)`` in that order, optionally followed by ground ``0`` for wye-connected
elements (a neutral conductor ``4`` is not modelled). Beyond that it cannot represent:

- single- or two-phase lines, switches, transformers, capacitors, reactors, loads and DER;
- transformers with more than three windings or with ``phases != 3``;
- a line, switch or series reactor joining buses of different voltage bases;
- regulators other than one ganged regulator per two-winding transformer, forward only
  (``reversible`` regulators need the exact engine);
- exponential (CVR) loads with exponents other than 0, 1 or 2, and ZIP loads whose
  coefficients are not ``(Zp, Ip, Pp[, Zq, Iq, Pq[, Vcutoff]])``;
- delta-connected three-phase loads and DER when the network needs the asymmetric calculation
  (under unbalanced voltages a delta load draws different phase currents than PGM's wye
  equivalent; in the symmetric calculation they are identical).

Every reason names the element kind and id, so the automatic engine choice is explainable.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from openderms.grid.engines.pgm_loads import unsupported_load
from openderms.grid.model import Matrix, Network, Nodes

PHASES: Nodes = (1, 2, 3)
GROUNDED_PHASES: Nodes = (1, 2, 3, 0)

#: relative tolerance below which a matrix counts as balanced (transposed)
BALANCE_RTOL = 1e-9


def is_three_phase(nodes: Nodes, *, allow_ground: bool = True) -> bool:
    """True if ``nodes`` is exactly A, B, C (optionally followed by ground ``0``)."""
    return nodes == PHASES or (allow_ground and nodes == GROUNDED_PHASES)


def is_3x3(m: Matrix) -> bool:
    """True if ``m`` has three rows of three entries."""
    return len(m) == 3 and all(len(row) == 3 for row in m)


def unbalanced(matrices: NDArray[np.float64]) -> NDArray[np.bool_]:
    """For a stack ``[n, 3, 3]``: True where diagonal or off-diagonal entries differ."""
    diag = matrices[:, [0, 1, 2], [0, 1, 2]]
    off = matrices[:, [0, 0, 1, 1, 2, 2], [1, 2, 0, 2, 0, 1]]
    scale = np.maximum(np.abs(matrices).max(axis=(1, 2)), 1e-30) * BALANCE_RTOL
    return np.asarray((np.ptp(diag, axis=1) > scale) | (np.ptp(off, axis=1) > scale))


def line_matrix_checks(net: Network) -> tuple[set[int], bool]:
    """``id()`` of every line matrix that is not 3x3, and whether any 3x3 one is unbalanced.

    Lines usually share a few matrix objects, so the checks run on the distinct ones.
    """
    by_id: dict[int, Matrix] = {}
    for ln in net.lines:
        for m in (ln.r_ohm_per_km, ln.x_ohm_per_km, ln.c_nf_per_km):
            by_id[id(m)] = m
    bad = {k for k, m in by_id.items() if not is_3x3(m)}
    distinct = {m for k, m in by_id.items() if k not in bad}
    if not distinct:
        return bad, False
    return bad, bool(unbalanced(np.array(list(distinct), dtype=np.float64)).any())


def needs_asymmetric(net: Network) -> bool:
    """True if a line's impedance or capacitance matrix is untransposed (unequal entries).

    Every other element PGM accepts is balanced, so a network of transposed lines is solved
    exactly by the (faster) symmetric calculation.
    """
    return line_matrix_checks(net)[1]


def unsupported_reasons(net: Network, *, symmetric: bool | None = None) -> tuple[str, ...]:
    """Reasons PGM cannot represent ``net``, one ``"<kind> <id>: <what>[; <what>]"`` per
    element, in network order; empty if it can.

    ``symmetric`` is the calculation that will be used (None: chosen from the lines).
    """
    bad_matrices, asymmetric = line_matrix_checks(net)
    if symmetric is None:
        symmetric = not asymmetric
    base = {b.id: b.v_base_kv_ln for b in net.buses}
    issues: dict[tuple[str, str], list[str]] = {}

    def flag(kind: str, el_id: str, what: str) -> None:
        issues.setdefault((kind, el_id), []).append(what)

    def same_base(a: str, b: str) -> bool:
        va, vb = base.get(a), base.get(b)
        return va is not None and vb is not None and abs(va - vb) <= 1e-9 * max(va, vb)

    for src in net.sources:
        if not is_three_phase(src.nodes):
            flag("source", src.id, f"nodes {src.nodes} are not the three phases (1, 2, 3)")
        if src.x1_ohm < 0 or (src.r1_ohm > 0 and src.x1_ohm == 0):
            flag("source", src.id, f"x1_ohm={src.x1_ohm} must be positive")
    for ln in net.lines:
        if not (is_three_phase(ln.nodes1, allow_ground=False) and ln.nodes1 == ln.nodes2):
            flag("line", ln.id, f"{len(ln.nodes1)}-conductor line {ln.nodes1}/{ln.nodes2}")
        elif {id(ln.r_ohm_per_km), id(ln.x_ohm_per_km), id(ln.c_nf_per_km)} & bad_matrices:
            flag("line", ln.id, "impedance or capacitance matrix is not 3x3")
        elif not same_base(ln.bus1, ln.bus2):
            flag("line", ln.id, "joins buses of different voltage bases")
        elif ln.length_km <= 0:
            flag("line", ln.id, f"length_km={ln.length_km} (zero impedance; use a switch)")
    for sw in net.switches:
        if not (is_three_phase(sw.nodes1, allow_ground=False) and sw.nodes1 == sw.nodes2):
            flag("switch", sw.id, f"not three-phase ({sw.nodes1}/{sw.nodes2})")
        elif not same_base(sw.bus1, sw.bus2):
            flag("switch", sw.id, "joins buses of different voltage bases")
    transformers = {}
    for tr in net.transformers:
        transformers[tr.id] = tr
        if tr.phases != 3:
            flag("transformer", tr.id, f"{tr.phases}-phase transformer")
        if len(tr.windings) not in (2, 3):
            flag("transformer", tr.id, f"{len(tr.windings)} windings (2 or 3 supported)")
        for k, w in enumerate(tr.windings, start=1):
            if not is_three_phase(w.nodes, allow_ground=w.conn == "wye"):
                flag("transformer", tr.id, f"winding {k} nodes {w.nodes} not (1, 2, 3)")
    regulated: set[str] = set()
    for reg in net.regulators:
        tr_reg = transformers.get(reg.transformer)
        if tr_reg is None:
            flag("regulator", reg.id, f"no transformer {reg.transformer!r}")
            continue
        if len(tr_reg.windings) != 2:
            flag("regulator", reg.id, f"on a {len(tr_reg.windings)}-winding transformer")
        if tr_reg.phases != 3:
            flag("regulator", reg.id, "single-phase regulator (phases need independent taps)")
        if reg.winding not in (1, 2):
            flag("regulator", reg.id, f"winding {reg.winding} (1 or 2 supported)")
        if reg.transformer in regulated:
            flag("regulator", reg.id, f"second regulator on transformer {reg.transformer}")
        regulated.add(reg.transformer)
        if reg.reversible:
            flag("regulator", reg.id, "reverse-power regulation is not emulated")
        if reg.pt_phase not in (1, 2, 3, -1, -2):
            flag("regulator", reg.id, f"pt_phase={reg.pt_phase} (1, 2, 3, -1 max, -2 min)")
        if reg.winding in (1, 2):
            w = tr_reg.windings[reg.winding - 1]
            if w.tap_steps <= 0 or w.tap_max_pu <= w.tap_min_pu:
                flag("regulator", reg.id, f"winding {reg.winding} has no tap range")
    for cap in net.capacitors:
        if not is_three_phase(cap.nodes, allow_ground=cap.conn == "wye"):
            flag("capacitor", cap.id, f"nodes {cap.nodes} are not the three phases (1, 2, 3)")
    for rx in net.reactors:
        if not is_three_phase(rx.nodes1, allow_ground=rx.bus2 is None and rx.conn == "wye"):
            flag("reactor", rx.id, f"nodes {rx.nodes1} are not the three phases (1, 2, 3)")
        elif rx.bus2 is not None and (
            rx.nodes2 not in ((), rx.nodes1) or not same_base(rx.bus1, rx.bus2)
        ):
            flag("reactor", rx.id, f"series reactor {rx.nodes1}/{rx.nodes2} between bases")
        elif rx.r_ohm == 0 and rx.x_ohm == 0:
            flag("reactor", rx.id, "zero impedance")
    for ld in net.loads:
        if not is_three_phase(ld.nodes, allow_ground=ld.conn == "wye"):
            kind = "single-phase" if len(set(ld.nodes) - {0}) == 1 else "unbalanced"
            flag("load", ld.id, f"{kind} load on nodes {ld.nodes} ({ld.conn})")
        elif ld.conn == "delta" and not symmetric:
            flag("load", ld.id, "delta load in an asymmetric calculation")
        law = unsupported_load(ld)
        if law is not None:
            flag("load", ld.id, f"{ld.model} load with {law}")
    for der in net.ders:
        if not is_three_phase(der.nodes, allow_ground=der.conn == "wye"):
            flag("der", der.id, f"single- or two-phase DER on nodes {der.nodes}")
        elif der.conn == "delta" and not symmetric:
            flag("der", der.id, "delta DER in an asymmetric calculation")
    return tuple(f"{kind} {el_id}: " + "; ".join(what) for (kind, el_id), what in issues.items())
