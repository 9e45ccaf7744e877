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
from threading import Lock

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
from openderms.grid.engines.pgm_controls import Controls, SolveState, TapMode, update_data
from openderms.grid.engines.pgm_convert import PgmConversion, convert, sym_loads
from openderms.grid.engines.pgm_loads import NORMAL, LoadRows, load_rows
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
_IC = CalculationMethod.iterative_current
_REGULATOR_ATTRS: AttrFilter = {
    ComponentType.node: ["u_pu", "u_angle"],
    ComponentType.transformer: ["p_from", "q_from", "p_to", "q_to", "loading"],
}


class PgmModel:
    """A converted network plus its PGM model; immutable from the caller's point of view.

    Internally a load gains PGM rows the first time it leaves its voltage band (see
    ``pgm_loads``); that rebuild is invisible in results and guarded by the model's lock.
    """

    def __init__(
        self,
        net: Network,
        conversion: PgmConversion,
        *,
        symmetric: bool,
        rows: LoadRows | None = None,
        pgm: PowerGridModel | None = None,
    ) -> None:
        """Use ``from_network``; this assembles already converted parts."""
        self.net = net
        self.conversion = conversion
        self.symmetric = symmetric
        self.node_ids, self.node_bus = node_labels(net)
        self.layout: BranchLayout = branch_layout(net, conversion)
        self._load_p_kw = conversion.load_p_kw
        self._load_q_kvar = conversion.load_q_kvar
        self._der_p_kw = np.array([d.p_kw for d in net.ders], dtype=np.float64)
        self._der_q_kvar = np.array([d.q_kvar for d in net.ders], dtype=np.float64)
        self._lock = Lock()  # PGM models are not safe to share between threads
        self._scratch: PowerGridModel | None = None
        self._rows = load_rows(conversion.loads) if rows is None else rows
        self._pgm = self._build() if pgm is None else pgm

    @classmethod
    def from_network(cls, net: Network, *, symmetric: bool | None = None) -> PgmModel:
        """Convert ``net`` (raises ``EngineUnsupportedError`` naming what PGM cannot model).

        ``symmetric``: None picks the symmetric calculation when every line is transposed
        (exact then), False forces the asymmetric one, True forces symmetric (untransposed
        lines then use their averaged positive-sequence impedance: an approximation).
        """
        if not net.sources:
            raise PowerFlowError(f"network {net.name!r} has no source")
        sym = (not needs_asymmetric(net)) if symmetric is None else symmetric
        reasons = unsupported_reasons(net, symmetric=sym)
        if reasons:
            raise EngineUnsupportedError(ENGINE_NAME, reasons)
        return cls(net, convert(net), symmetric=sym)

    @property
    def branch_ids(self) -> tuple[str, ...]:
        return self.layout.branch_ids

    def _build(self) -> PowerGridModel:
        """A PGM model of the conversion, this row set and this network's switch states."""
        data = dict(self.conversion.data)
        data[ComponentType.sym_load] = sym_loads(self.conversion, self._rows)
        try:
            pgm = PowerGridModel(data, system_frequency=self.net.frequency_hz)
        except PowerGridError as exc:
            raise PowerFlowError(f"power-grid-model rejected the converted model: {exc}") from exc
        update = _switch_update(self.conversion, self.net)
        if update:
            pgm.update(update_data=update)
        return pgm

    def _extend(self, parts: np.ndarray) -> None:
        """Add rows for the (load, part)s ``parts`` (``[n, 3]``) and rebuild the PGM model."""
        with self._lock:
            self._rows = load_rows(self.conversion.loads, self._rows.present | parts)
            self._pgm = self._build()
            self._scratch = None

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
        with self._lock:
            rows, pgm = self._rows, self._pgm.copy()
        update = _switch_update(self.conversion, net)
        if update:
            pgm.update(update_data=update)
        return PgmModel(net, self.conversion, symmetric=self.symmetric, rows=rows, pgm=pgm)

    # ---------------------------------------------------------------- solving
    def solve(
        self,
        load_p_kw: FloatArray | None = None,
        load_q_kvar: FloatArray | None = None,
        der_p_kw: FloatArray | None = None,
        der_q_kvar: FloatArray | None = None,
        *,
        regulate: bool = True,
        error_tolerance: float = 1e-8,
    ) -> PowerFlowResult:
        """One snapshot with the given injections (1-D; None keeps the model's values).

        Loads in load convention (positive = consumed), DER in generator convention (positive =
        export). ``substation_p_kw`` > 0 means import from transmission. Regulators move their
        taps from the model's positions as OpenDSS's would (``regulate=False``: they stay).
        ``error_tolerance``: PGM's Newton-Raphson tolerance (pu); large feeders can stall just
        above the default 1e-8.
        """
        rows = [_as_rows(a) for a in (load_p_kw, load_q_kvar, der_p_kw, der_q_kvar)]
        taps: TapMode = "independent" if regulate else "fixed"
        out, solve_s = self._run(
            *rows, n_steps=1, attrs=SNAPSHOT_ATTRS, taps=taps, tolerance=error_tolerance
        )
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
        taps: TapMode = "independent",
        threading: int = 0,
    ) -> SeriesResult:
        """Many scenarios in one PGM batch call: arrays ``[steps, n_loads]`` / ``[steps, n_ders]``.

        Signs as in ``solve``. ``taps``: see ``TapMode`` (regulated networks only). Scenarios
        whose taps or load regions move are solved again (a few more, smaller batch calls).
        ``threading`` is PGM's (0: all hardware threads, -1: one).
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
                *rows,
                n_steps=n_steps,
                attrs=BATCH_ATTRS,
                threading=threading,
                method=_IC,
                taps=taps,
            )
        except NotConvergedError:  # Newton-Raphson is more robust on heavily loaded cases
            out, solve_s = self._run(
                *rows, n_steps=n_steps, attrs=BATCH_ATTRS, threading=threading, taps=taps
            )
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
        taps: TapMode = "independent",
        tolerance: float = 1e-8,
    ) -> tuple[PgmOutput, float]:
        """Solve, then move regulator taps and load voltage regions until both rest.

        After the first pass only the scenarios whose taps or load regions moved are solved
        again, and their results replace the earlier ones.
        """
        reg = self.conversion.regulators
        n_loads, n_ders = len(self.net.loads), len(self.net.ders)
        _check_width("load", load_p, load_q, n_loads)
        _check_width("der", der_p, der_q, n_ders)
        state = SolveState(
            p_kw=np.broadcast_to(self._load_p_kw if load_p is None else load_p, (n_steps, n_loads)),
            q_kvar=np.broadcast_to(
                self._load_q_kvar if load_q is None else load_q, (n_steps, n_loads)
            ),
            der_p_kw=np.broadcast_to(self._der_p_kw if der_p is None else der_p, (n_steps, n_ders)),
            der_q_kvar=np.broadcast_to(
                self._der_q_kvar if der_q is None else der_q, (n_steps, n_ders)
            ),
            taps=np.zeros((n_steps, len(reg.transformer_row)), dtype=np.int64),
            region=np.full((n_steps, n_loads), NORMAL, dtype=np.int64),
            loads_given=load_p is not None or load_q is not None,
            ders_given=der_p is not None or der_q is not None,
        )
        want: AttrFilter = dict(attrs)
        if len(reg.transformer_row):
            for comp, names in _REGULATOR_ATTRS.items():
                have, add = want.get(comp), names
                assert isinstance(have, list | None)
                assert isinstance(add, list)
                want[comp] = sorted({*(have or []), *add})
        controls = Controls(
            conv=self.conversion,
            calculate=lambda st, scen: self._calculate(
                st, scen, want, threading, method, tolerance=tolerance
            ),
            rows=lambda: self._rows,
            extend=self._extend,
            regulate=taps != "fixed",
        )
        return controls.run(state, chronological=taps == "chronological")

    def _calculate(
        self,
        state: SolveState,
        rows: IntArray,
        want: AttrFilter,
        threading: int,
        method: CalculationMethod,
        *,
        tolerance: float = 1e-8,
    ) -> tuple[PgmOutput, float]:
        """PGM on the scenarios ``rows``; the output always has a scenario axis.

        Several scenarios: one batch call on the shared model. One scenario: a plain call on
        the shared model when it needs no update, else on this model's private working copy
        (updated in place with every injection and tap, so nothing stale survives a call),
        which avoids the batch machinery's per-call copy of the whole model.
        """
        t0 = time.perf_counter()
        out: PgmOutput
        with self._lock:
            data = update_data(self.conversion, self._rows, state, rows, complete=False)
            try:
                if len(rows) > 1:
                    out = self._pgm.calculate_power_flow(
                        symmetric=self.symmetric,
                        update_data=data,
                        output_component_types=want,
                        threading=threading,
                        calculation_method=method,
                        error_tolerance=tolerance,
                    )
                else:
                    target = self._pgm
                    if data:
                        if self._scratch is None:
                            self._scratch = self._pgm.copy()
                        target = self._scratch
                        full = update_data(self.conversion, self._rows, state, rows, complete=True)
                        target.update(update_data={k: v[0] for k, v in full.items()})
                    single = target.calculate_power_flow(
                        symmetric=self.symmetric,
                        output_component_types=want,
                        calculation_method=method,
                        error_tolerance=tolerance,
                    )
                    out = {comp: _with_scenario_axis(cols) for comp, cols in single.items()}
            except PowerGridBatchError as exc:
                failed = rows[exc.failed_scenarios].tolist()
                raise NotConvergedError(
                    f"power-grid-model did not converge in {len(failed)} of {len(rows)} "
                    f"scenarios (first: {failed[:5]}): {exc.error_messages[0].strip()}"
                ) from exc
            except _DIVERGED as exc:
                raise NotConvergedError(f"power-grid-model did not converge: {exc}") from exc
            except PowerGridError as exc:
                raise PowerFlowError(f"power-grid-model failed: {exc}") from exc
        return out, time.perf_counter() - t0


def _switch_update(conv: PgmConversion, net: Network) -> dict[ComponentType, np.ndarray]:
    """Link / line status updates putting every switch in its ``net`` state."""
    status = np.array([s.closed for s in net.switches], dtype=np.int8)
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
    return update


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
