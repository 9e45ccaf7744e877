"""``PgmModel``: a Network converted once to power-grid-model, re-solved with new injections.

This is the fast path for the control loop, sensitivities and studies::

    model = PgmModel.from_network(net)              # ~ms per thousand elements, once
    r = model.solve(der_p_kw=p)                     # PowerFlowResult, only injections change
    s = model.batch(load_p_kw=P, der_p_kw=G)        # SeriesResult, one PGM batch call
    after = model.with_switch_states({"tie12": True, "brk2": False})  # no reconversion

Injection arrays align with ``net.loads`` (load convention: positive = consumed) and
``net.ders`` (generator convention: positive = export); ``None`` keeps the model's values.
Snapshot arrays are 1-D; batch arrays are ``[steps, n]``. A missing ``q`` keeps the model's q.

``PowerFlowResult.iterations`` is -1: PGM does not report its Newton-Raphson iteration count.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping

import numpy as np
from power_grid_model import (
    CalculationMethod,
    ComponentType,
    DatasetType,
    PowerGridModel,
    initialize_array,
)
from power_grid_model.errors import (  # type: ignore[attr-defined]  # re-exported, no __all__
    IterationDiverge,
    MaxIterationReached,
    PowerGridBatchError,
    PowerGridError,
    SparseMatrixError,
)

from openderms.errors import (
    EngineUnsupportedError,
    NotConvergedError,
    PowerFlowError,
    UnknownElementError,
)
from openderms.grid.engines.pgm_convert import PgmConversion, convert
from openderms.grid.engines.pgm_loads import NORMAL, regions, specified
from openderms.grid.engines.pgm_regulators import tap_change
from openderms.grid.engines.pgm_results import (
    BATCH_ATTRS,
    SNAPSHOT_ATTRS,
    BranchLayout,
    assemble,
    branch_layout,
    node_labels,
)
from openderms.grid.engines.pgm_support import needs_asymmetric, unsupported_reasons
from openderms.grid.engines.pgm_types import AttrFilter, FloatArray, IntArray, PgmOutput
from openderms.grid.model import Network
from openderms.grid.powerflow import PowerFlowResult, SeriesResult

ENGINE_NAME = "pgm"
_DIVERGED = (IterationDiverge, MaxIterationReached, SparseMatrixError)
#: control iterations (regulator taps, load voltage regions) before giving up
MAX_CONTROL_ITERATIONS = 30
_IC = CalculationMethod.iterative_current
_REGULATOR_ATTRS: AttrFilter = {
    ComponentType.node: ["u_pu", "u_angle"],
    ComponentType.transformer: ["p_from", "q_from", "p_to", "q_to", "loading"],
}


class PgmModel:
    """A converted network plus its PGM model; immutable from the caller's point of view."""

    def __init__(
        self,
        net: Network,
        conversion: PgmConversion,
        pgm: PowerGridModel,
        *,
        symmetric: bool,
        node_ids: tuple[str, ...],
        node_bus: tuple[str, ...],
    ) -> None:
        """Use ``from_network``; this assembles already converted parts."""
        self.net = net
        self.conversion = conversion
        self.symmetric = symmetric
        self.node_ids = node_ids
        self.node_bus = node_bus
        self._pgm = pgm
        self.layout: BranchLayout = branch_layout(net, conversion)
        self._load_p_kw = np.array([ld.p_kw for ld in net.loads], dtype=np.float64)
        self._load_q_kvar = np.array([ld.q_kvar for ld in net.loads], dtype=np.float64)

    @classmethod
    def from_network(cls, net: Network, *, symmetric: bool | None = None) -> PgmModel:
        """Convert ``net`` (raises ``EngineUnsupportedError`` naming what PGM cannot model).

        ``symmetric``: None picks the symmetric calculation when every line is transposed
        (exact then), False forces the asymmetric one, True forces symmetric (untransposed
        lines then use their averaged positive-sequence impedance: an approximation).
        """
        sym = (not needs_asymmetric(net)) if symmetric is None else symmetric
        reasons = unsupported_reasons(net, symmetric=sym)
        if reasons:
            raise EngineUnsupportedError(ENGINE_NAME, reasons)
        conv = convert(net)
        try:
            pgm = PowerGridModel(conv.data, system_frequency=net.frequency_hz)
        except PowerGridError as exc:
            raise PowerFlowError(f"power-grid-model rejected the converted model: {exc}") from exc
        ids, buses = node_labels(net)
        return cls(net, conv, pgm, symmetric=sym, node_ids=ids, node_bus=buses)

    @property
    def branch_ids(self) -> tuple[str, ...]:
        return self.layout.branch_ids

    # ---------------------------------------------------------------- switching
    def with_switch_states(self, states: Mapping[str, bool]) -> PgmModel:
        """A model with some switches opened/closed (``{switch_id: closed}``), no reconversion."""
        index = {s.id: i for i, s in enumerate(self.net.switches)}
        switches = list(self.net.switches)
        for sid, closed in states.items():
            i = index.get(sid)
            if i is None:
                raise UnknownElementError("switch", sid)
            switches[i] = dataclasses.replace(switches[i], closed=bool(closed))
        net = dataclasses.replace(self.net, switches=tuple(switches))
        conv = self.conversion
        status = np.array([s.closed for s in switches], dtype=np.int8)
        update: dict[ComponentType, np.ndarray] = {}
        for comp, mask in (
            (ComponentType.link, conv.switch_is_link),
            (ComponentType.line, ~conv.switch_is_link),
        ):
            if mask.any():
                upd = initialize_array(DatasetType.update, comp, int(mask.sum()))
                upd["id"] = conv.data[comp]["id"][conv.switch_row[mask]]
                upd["from_status"] = upd["to_status"] = status[mask]
                update[comp] = upd
        pgm = self._pgm.copy()
        if update:
            pgm.update(update_data=update)
        return PgmModel(
            net,
            self.conversion,
            pgm,
            symmetric=self.symmetric,
            node_ids=self.node_ids,
            node_bus=self.node_bus,
        )

    # ---------------------------------------------------------------- solving
    def solve(
        self,
        load_p_kw: FloatArray | None = None,
        load_q_kvar: FloatArray | None = None,
        der_p_kw: FloatArray | None = None,
        der_q_kvar: FloatArray | None = None,
    ) -> PowerFlowResult:
        """One snapshot with the given injections (1-D; None keeps the model's values).

        Loads in load convention (positive = consumed), DER in generator convention (positive =
        export). ``substation_p_kw`` > 0 means import from transmission.
        """
        rows = [_as_rows(a) for a in (load_p_kw, load_q_kvar, der_p_kw, der_q_kvar)]
        out, solve_s = self._run(*rows, n_steps=1, attrs=SNAPSHOT_ATTRS)
        s = assemble(out, self.layout, 1, snapshot=True)
        assert s.v_angle_deg is not None
        assert s.i_max_a is not None
        assert s.p_from_kw is not None
        assert s.q_from_kvar is not None
        assert s.substation_q_kvar is not None
        return PowerFlowResult(
            engine=ENGINE_NAME,
            converged=True,
            iterations=-1,
            node_ids=self.node_ids,
            node_bus=self.node_bus,
            v_pu=s.v_pu[0],
            v_angle_deg=s.v_angle_deg[0],
            branch_kind=self.layout.branch_kind,
            branch_ids=self.layout.branch_ids,
            i_max_a=s.i_max_a[0],
            loading_pct=s.loading_pct[0],
            p_from_kw=s.p_from_kw[0],
            q_from_kvar=s.q_from_kvar[0],
            substation_p_kw=float(s.substation_p_kw[0]),
            substation_q_kvar=float(s.substation_q_kvar[0]),
            losses_kw=float(s.losses_kw[0]),
            solve_s=solve_s,
        )

    def batch(
        self,
        load_p_kw: FloatArray | None = None,
        load_q_kvar: FloatArray | None = None,
        der_p_kw: FloatArray | None = None,
        der_q_kvar: FloatArray | None = None,
        *,
        threading: int = 0,
    ) -> SeriesResult:
        """Many scenarios in one PGM batch call: arrays ``[steps, n_loads]`` / ``[steps, n_ders]``.

        Signs as in ``solve``. ``threading`` is PGM's (0: all hardware threads, -1: one).
        """
        given = [a for a in (load_p_kw, load_q_kvar, der_p_kw, der_q_kvar) if a is not None]
        if not given:
            raise ValueError("batch needs at least one injection array [steps, n]")
        n_steps = int(np.asarray(given[0]).shape[0])
        rows = [
            None if a is None else np.asarray(a, dtype=np.float64).reshape(n_steps, -1)
            for a in (load_p_kw, load_q_kvar, der_p_kw, der_q_kvar)
        ]
        try:  # the Y matrix is factorised once for all scenarios: fastest for injection series
            out, solve_s = self._run(
                *rows, n_steps=n_steps, attrs=BATCH_ATTRS, threading=threading, method=_IC
            )
        except NotConvergedError:  # Newton-Raphson is more robust on heavily loaded cases
            out, solve_s = self._run(*rows, n_steps=n_steps, attrs=BATCH_ATTRS, threading=threading)
        s = assemble(out, self.layout, n_steps, snapshot=False)
        return SeriesResult(
            engine=ENGINE_NAME,
            node_ids=self.node_ids,
            node_bus=self.node_bus,
            branch_ids=self.layout.branch_ids,
            v_pu=s.v_pu,
            loading_pct=s.loading_pct,
            substation_p_kw=s.substation_p_kw,
            losses_kw=s.losses_kw,
            solve_s=solve_s,
        )

    # ---------------------------------------------------------------- internals
    def _run(
        self,
        load_p: FloatArray | None,
        load_q: FloatArray | None,
        der_p: FloatArray | None,
        der_q: FloatArray | None,
        *,
        n_steps: int,
        attrs: AttrFilter,
        threading: int = -1,
        method: CalculationMethod = CalculationMethod.newton_raphson,
    ) -> tuple[PgmOutput, float]:
        """Solve, then move regulator taps and load voltage regions until both rest."""
        conv = self.conversion
        reg, table = conv.regulators, conv.loads
        n_loads = len(self.net.loads)
        _check_width("load", load_p, load_q, n_loads)
        _check_width("der", der_p, der_q, len(self.net.ders))
        fixed: dict[ComponentType, np.ndarray] = {}
        if der_p is not None or der_q is not None:
            fixed[ComponentType.sym_gen] = self._der_update(der_p, der_q, n_steps)
        p_kw = self._load_p_kw if load_p is None else load_p
        q_kvar = self._load_q_kvar if load_q is None else load_q
        p_kw = np.broadcast_to(p_kw, (n_steps, n_loads))
        q_kvar = np.broadcast_to(q_kvar, (n_steps, n_loads))
        loads_given = load_p is not None or load_q is not None
        want: AttrFilter = dict(attrs)
        if len(reg.transformer_row):
            for comp, names in _REGULATOR_ATTRS.items():
                have, add = want.get(comp), names
                assert isinstance(have, list | None)
                assert isinstance(add, list)
                want[comp] = sorted({*(have or []), *add})
        taps = np.zeros((n_steps, len(reg.transformer_row)), dtype=np.int64)
        region = np.full((n_steps, n_loads), NORMAL, dtype=np.int64)
        elapsed = 0.0
        for _ in range(MAX_CONTROL_ITERATIONS):
            data = dict(fixed)
            if loads_given or (region != NORMAL).any():
                data[ComponentType.sym_load] = self._load_update(region, p_kw, q_kvar)
            if taps.any():
                tap = initialize_array(DatasetType.update, ComponentType.transformer, taps.shape)
                tap["id"] = reg.transformer_pgm_id
                tap["tap_pos"] = taps
                data[ComponentType.transformer] = tap
            out, seconds = self._calculate(data, want, n_steps, threading, method)
            elapsed += seconds
            moved = False
            if len(reg.transformer_row):
                change = tap_change(out, reg, taps, conv.bus_u_rated_v)
                if change.any():
                    taps = taps + change
                    moved = True
            if table.adaptive.any():
                u = np.asarray(out[ComponentType.node]["u_pu"], dtype=np.float64)
                u = u.mean(axis=2) if u.ndim == 3 else u
                new = regions(table, u.reshape(n_steps, -1)[:, conv.load_node_row])
                if (new != region).any():
                    region = new
                    moved = True
            if not moved:
                return out, elapsed
        raise NotConvergedError(
            f"regulator taps or load voltage regions still changing after "
            f"{MAX_CONTROL_ITERATIONS} iterations"
        )

    def _calculate(
        self,
        data: dict[ComponentType, np.ndarray],
        want: AttrFilter,
        n_steps: int,
        threading: int,
        method: CalculationMethod,
    ) -> tuple[PgmOutput, float]:
        """One PGM call (a batch when ``data`` holds updates); output always has scenarios."""
        t0 = time.perf_counter()
        out: PgmOutput
        try:
            if data:
                out = self._pgm.calculate_power_flow(
                    symmetric=self.symmetric,
                    update_data=data,
                    output_component_types=want,
                    threading=threading if n_steps > 1 else -1,
                    calculation_method=method,
                )
            else:  # a plain snapshot: give it the batch axis of one scenario
                single = self._pgm.calculate_power_flow(
                    symmetric=self.symmetric,
                    output_component_types=want,
                    calculation_method=method,
                )
                out = {comp: _with_scenario_axis(cols) for comp, cols in single.items()}
        except PowerGridBatchError as exc:
            failed = exc.failed_scenarios.tolist()
            raise NotConvergedError(
                f"power-grid-model did not converge in {len(failed)} of {n_steps} scenarios "
                f"(first: {failed[:5]}): {exc.error_messages[0].strip()}"
            ) from exc
        except _DIVERGED as exc:
            raise NotConvergedError(f"power-grid-model did not converge: {exc}") from exc
        except PowerGridError as exc:
            raise PowerFlowError(f"power-grid-model failed: {exc}") from exc
        return out, time.perf_counter() - t0

    def _load_update(self, region: IntArray, p_kw: FloatArray, q_kvar: FloatArray) -> np.ndarray:
        p_w, q_var = specified(self.conversion.loads, region, p_kw, q_kvar)
        upd = initialize_array(DatasetType.update, ComponentType.sym_load, p_w.shape)
        upd["id"] = self.conversion.load_pgm_id
        upd["p_specified"] = p_w
        upd["q_specified"] = q_var
        return upd

    def _der_update(self, der_p: FloatArray | None, der_q: FloatArray | None, n: int) -> np.ndarray:
        upd = initialize_array(DatasetType.update, ComponentType.sym_gen, (n, len(self.net.ders)))
        upd["id"] = self.conversion.der_pgm_id
        if der_p is not None:
            upd["p_specified"] = der_p * 1e3
        if der_q is not None:
            upd["q_specified"] = der_q * 1e3
        return upd


def _with_scenario_axis(cols: object) -> dict[str, np.ndarray]:
    """Columnar single-scenario output -> the same columns with a leading axis of one."""
    assert isinstance(cols, dict)
    return {str(k): np.asarray(v)[None] for k, v in cols.items()}


def _as_rows(a: FloatArray | None) -> FloatArray | None:
    return None if a is None else np.asarray(a, dtype=np.float64).reshape(1, -1)


def _check_width(kind: str, p: FloatArray | None, q: FloatArray | None, n: int) -> None:
    for name, a in (("p", p), ("q", q)):
        if a is not None and a.shape[1] != n:
            raise ValueError(f"{kind} {name} array has {a.shape[1]} columns, expected {n}")
