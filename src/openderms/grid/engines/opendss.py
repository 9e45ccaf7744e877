"""The exact unbalanced engine: OpenDSS through dss-python, in a private DSS context.

The OpenDSS model is generated from our ``Network`` (``to_dss_script``), never taken from an
imported file. Regulators act (static control mode); capacitors stay in their model state.

Signs: ``substation_p_kw``/``q`` is what the source(s) deliver into the network (positive
when importing from transmission); ``p_from_kw``/``q_from_kvar`` is the power entering a
branch at terminal 1 (bus1 / first winding). Loads in load convention, DER in generator
convention (positive = export). Node voltages are per unit of ``Bus.v_base_kv_ln``; only phase
nodes 1-3 are reported (neutral conductors are not).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from openderms.errors import NotConvergedError, PowerFlowError
from openderms.grid.model import Network
from openderms.grid.opendss._dss import SQRT3, DSSException, as_complex, new_context
from openderms.grid.opendss.writer import DssScript, build_script, to_dss_script
from openderms.grid.powerflow import FloatArray, InjectionSeries, PowerFlowResult, SeriesResult

__all__ = ["OpenDssEngine", "to_dss_script"]

IntArray = np.ndarray[Any, np.dtype[np.intp]]


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where each reported node and branch sits in OpenDSS's result arrays."""

    node_pos: IntArray
    node_ids: tuple[str, ...]
    node_bus: tuple[str, ...]
    v_base_v: FloatArray
    branch_kind: tuple[str, ...]
    branch_ids: tuple[str, ...]
    cur_pos: IntArray  # conductor positions in PDElements.AllCurrents, grouped by branch
    cur_start: IntArray  # first entry of each branch in cur_pos
    cur_rating_a: FloatArray  # rating of each entry of cur_pos (nan: none)
    pow_pos: IntArray  # terminal-1 conductor positions in PDElements.AllPowers
    pow_start: IntArray
    sources: tuple[tuple[str, int], ...]  # OpenDSS full name, terminal-1 conductors


class OpenDssEngine:
    """OpenDSS as a ``PowerFlowEngine`` (one private engine context per instance).

    ``tolerance_pu`` is OpenDSS's convergence tolerance; the default is tighter than OpenDSS's
    own (1e-4), which costs a couple of cheap iterations and keeps results within about 1e-7
    pu of the exact solution.
    """

    name: str = "opendss"

    def __init__(self, tolerance_pu: float = 1e-6) -> None:
        self.tolerance_pu = tolerance_pu
        self._ctx: Any = None

    def unsupported(self, net: Network) -> tuple[str, ...]:
        """Reasons OpenDSS cannot represent ``net``; empty for anything the model can hold."""
        reasons: list[str] = []
        if not net.sources:
            reasons.append(f"network {net.name!r}: no source")
        for tr in net.transformers:
            n_x = {2: 1, 3: 3}.get(len(tr.windings))
            if n_x is None or len(tr.x_pct) != n_x:
                reasons.append(f"transformer {tr.id!r}: needs 2 windings with 1 x_pct or 3 with 3")
        for ld in net.loads:
            if ld.model == "zip" and len(ld.zip_coeffs) not in (3, 6, 7):
                reasons.append(f"load {ld.id!r}: zip_coeffs needs 3, 6 or 7 values")
        return tuple(reasons)

    def solve(self, net: Network) -> PowerFlowResult:
        """One snapshot (regulators act; see the module docstring for signs)."""
        started = time.perf_counter()
        c, script = self._compile(net)
        c.Solution.Solve()
        layout = _layout(c, net, script)
        v, ang = _voltages(c, layout)
        i_max, loading, p_from, q_from = _branches(c, layout)
        p_sub, q_sub = _substation(c, layout)
        losses = complex(*(float(x) for x in c.Losses))
        return PowerFlowResult(
            engine=self.name,
            converged=bool(c.Solution.Converged),
            iterations=int(c.Solution.Iterations),
            node_ids=layout.node_ids,
            node_bus=layout.node_bus,
            v_pu=v,
            v_angle_deg=ang,
            branch_kind=layout.branch_kind,
            branch_ids=layout.branch_ids,
            i_max_a=i_max,
            loading_pct=loading,
            p_from_kw=p_from,
            q_from_kvar=q_from,
            substation_p_kw=p_sub,
            substation_q_kvar=q_sub,
            losses_kw=losses.real / 1000.0,
            solve_s=time.perf_counter() - started,
        )

    def solve_series(self, net: Network, injections: InjectionSeries) -> SeriesResult:
        """One power flow per row; loads and DER are updated through the API, not recompiled.

        Load columns in load convention, DER columns in generator convention (positive =
        export). Regulator taps carry over from one step to the next.
        """
        started = time.perf_counter()
        n_steps = injections.n_steps
        shapes = {
            "load": (injections.load_p_kw.shape, injections.load_q_kvar.shape, len(net.loads)),
            "der": (injections.der_p_kw.shape, injections.der_q_kvar.shape, len(net.ders)),
        }
        for what, (p_shape, q_shape, n) in shapes.items():
            if p_shape != (n_steps, n) or q_shape != (n_steps, n):
                raise PowerFlowError(f"{what} injections must be {n_steps} x {n}, got {p_shape}")
        c, script = self._compile(net)
        layout: _Layout | None = None
        v_rows: list[FloatArray] = []
        loading_rows: list[FloatArray] = []
        p_sub = np.zeros(n_steps)
        losses = np.zeros(n_steps)
        loads, gens = c.Loads, c.Generators
        for k in range(n_steps):
            for j in range(len(net.loads)):
                loads.idx = j + 1
                loads.kW = float(injections.load_p_kw[k, j])
                loads.kvar = float(injections.load_q_kvar[k, j])
            for j in range(len(net.ders)):
                gens.idx = j + 1
                gens.kW = float(injections.der_p_kw[k, j])
                gens.kvar = float(injections.der_q_kvar[k, j])
            c.Solution.Solve()
            if not bool(c.Solution.Converged):
                raise NotConvergedError(f"OpenDSS did not converge at step {k} of {net.name!r}")
            layout = layout or _layout(c, net, script)
            v_rows.append(_voltages(c, layout)[0])
            loading_rows.append(_branches(c, layout)[1])
            p_sub[k] = _substation(c, layout)[0]
            losses[k] = float(c.Losses[0]) / 1000.0
        layout = layout or _layout(c, net, script)
        n_nodes, n_branches = len(layout.node_ids), len(layout.branch_ids)
        return SeriesResult(
            engine=self.name,
            node_ids=layout.node_ids,
            node_bus=layout.node_bus,
            branch_ids=layout.branch_ids,
            v_pu=np.array(v_rows).reshape(n_steps, n_nodes),
            loading_pct=np.array(loading_rows).reshape(n_steps, n_branches),
            substation_p_kw=p_sub,
            losses_kw=losses,
            solve_s=time.perf_counter() - started,
        )

    def _compile(self, net: Network) -> tuple[Any, DssScript]:
        reasons = self.unsupported(net)
        if reasons:
            raise PowerFlowError("; ".join(reasons))
        script = build_script(net)
        if self._ctx is None:
            self._ctx = new_context()
        try:
            self._ctx.Text.Commands("\n".join(script.commands))
            self._ctx.Text.Command = f"set tolerance={self.tolerance_pu!r}"
        except DSSException as exc:
            raise PowerFlowError(f"OpenDSS rejected the model of {net.name!r}: {exc}") from exc
        return self._ctx.ActiveCircuit, script


def _layout(c: Any, net: Network, script: DssScript) -> _Layout:
    dss_bus = {v: k for k, v in script.bus.items()}
    base = {b.id: b.v_base_kv_ln * 1000.0 for b in net.buses}
    node_pos: list[int] = []
    node_ids: list[str] = []
    node_bus: list[str] = []
    for pos, full in enumerate(str(n).lower() for n in c.AllNodeNames):
        bus, _, phase = full.rpartition(".")
        if phase not in ("1", "2", "3") or bus not in dss_bus:
            continue
        node_pos.append(pos)
        node_ids.append(f"{dss_bus[bus]}.{phase}")
        node_bus.append(dss_bus[bus])
    pd = c.PDElements
    names = [str(n).lower() for n in pd.AllNames]
    n_cond = [int(x) for x in pd.AllNumConductors]
    n_term = [int(x) for x in pd.AllNumTerminals]
    offset: dict[str, int] = {}
    pos = 0
    for name, nc, nt in zip(names, n_cond, n_term, strict=True):
        offset[name] = pos
        pos += nc * nt
    kinds: list[str] = []
    ids: list[str] = []
    cur: list[int] = []
    cur_start: list[int] = []
    rating: list[float] = []
    pw: list[int] = []
    pw_start: list[int] = []

    def add(
        kind: str, model_id: str, full: str, groups: list[tuple[range, float]], n1: int
    ) -> None:
        """One branch: its current groups (conductors, rating) and its ``n1`` terminal-1 ones."""
        if full not in offset:
            return
        at = offset[full]
        kinds.append(kind)
        ids.append(model_id)
        cur_start.append(len(cur))
        pw_start.append(len(pw))
        for conductors, amps in groups:
            cur.extend(at + j for j in conductors)
            rating.extend([amps if amps > 0.0 else math.nan] * len(conductors))
        pw.extend(range(at, at + n1))

    def two_ends(n: int, amps: float) -> list[tuple[range, float]]:
        return [(range(n), amps), (range(n, 2 * n), amps)]

    for ln in net.lines:
        n = ln.n_conductors
        add("line", ln.id, f"line.{script.line[ln.id]}", two_ends(n, ln.ampacity_a), n)
    for sw in net.switches:
        if sw.closed:
            n = len(sw.nodes1)
            add("switch", sw.id, f"line.{script.line[sw.id]}", two_ends(n, sw.ampacity_a), n)
    for tr in net.transformers:
        nc = tr.phases + 1  # OpenDSS gives every winding its phases plus a neutral conductor
        phase_groups = [
            (
                range(k * nc, k * nc + tr.phases),
                w.s_kva / (w.v_kv * (SQRT3 if tr.phases > 1 else 1)),
            )
            for k, w in enumerate(tr.windings)
        ]
        add("transformer", tr.id, f"transformer.{script.transformer[tr.id]}", phase_groups, nc)
    for r in net.reactors:
        if r.bus2 is not None:
            n = len(r.nodes1)
            add("reactor", r.id, f"reactor.{script.reactor[r.id]}", two_ends(n, r.ampacity_a), n)
    sources = tuple((f"vsource.{script.source[s.id]}", len(s.nodes)) for s in net.sources)
    return _Layout(
        node_pos=np.array(node_pos, dtype=np.intp),
        node_ids=tuple(node_ids),
        node_bus=tuple(node_bus),
        v_base_v=np.array([base[b] for b in node_bus], dtype=np.float64),
        branch_kind=tuple(kinds),
        branch_ids=tuple(ids),
        cur_pos=np.array(cur, dtype=np.intp),
        cur_start=np.array(cur_start, dtype=np.intp),
        cur_rating_a=np.array(rating, dtype=np.float64),
        pow_pos=np.array(pw, dtype=np.intp),
        pow_start=np.array(pw_start, dtype=np.intp),
        sources=sources,
    )


def _voltages(c: Any, layout: _Layout) -> tuple[FloatArray, FloatArray]:
    v = as_complex(c.AllBusVolts)[layout.node_pos]
    return np.abs(v) / layout.v_base_v, np.degrees(np.angle(v))


def _branches(c: Any, layout: _Layout) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    n = len(layout.branch_ids)
    if n == 0:
        empty = np.zeros(0)
        return empty, empty, empty, empty
    pd = c.PDElements
    i_abs = np.abs(as_complex(pd.AllCurrents))[layout.cur_pos]
    i_max = np.maximum.reduceat(i_abs, layout.cur_start)
    with np.errstate(invalid="ignore"):
        ratio = i_abs / layout.cur_rating_a
    ratio = np.where(np.isnan(ratio), -np.inf, ratio)
    loading = np.maximum.reduceat(ratio, layout.cur_start) * 100.0
    loading = np.where(np.isinf(loading), np.nan, loading)
    s = as_complex(pd.AllPowers)[layout.pow_pos]
    s_from = np.add.reduceat(s, layout.pow_start)
    return i_max, loading, s_from.real.copy(), s_from.imag.copy()


def _substation(c: Any, layout: _Layout) -> tuple[float, float]:
    total = 0j
    for full, n in layout.sources:
        c.SetActiveElement(full)
        total -= complex(as_complex(c.ActiveCktElement.Powers)[:n].sum())
    return total.real, total.imag
