"""The control iterations around power-grid-model: regulator taps and load voltage regions.

A solve is a set of scenarios (a snapshot is one). Every scenario is solved, then its
regulators move taps (``pgm_regulators``) and its loads change law (``pgm_loads``); only the
scenarios where something moved are solved again, until all rest. A time series adds one
outer loop: each step starts from the taps its predecessor ended with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from power_grid_model import ComponentType, DatasetType, initialize_array

from openderms.errors import NotConvergedError
from openderms.grid.engines.pgm_convert import PgmConversion
from openderms.grid.engines.pgm_loads import (
    NORMAL,
    LoadRows,
    missing,
    near_band_edge,
    regions,
    specified,
)
from openderms.grid.engines.pgm_regulators import core_update, tap_change
from openderms.grid.engines.pgm_types import FloatArray, IntArray, PgmOutput

#: how regulator taps behave across the scenarios of a batch: each from the model's taps
#: ("independent"), each from the previous step's final taps ("chronological", a time series),
#: or not at all ("fixed": the model's taps, no regulator action; for sensitivities)
TapMode = Literal["independent", "chronological", "fixed"]
#: control iterations (regulator taps, load voltage regions) before giving up
MAX_CONTROL_ITERATIONS = 30
#: control iterations after which a load on the edge of its voltage band keeps its law
SETTLE_BEFORE_HOLD = 3
#: how close to a band edge (pu of the load's voltage) counts as on the edge; the laws meet
#: there, so holding the present law changes the load's power by less than ~2x this share
BAND_EDGE_HOLD_PU = 2e-3

#: PGM on the given scenarios (absolute indices) -> output with those scenarios, seconds
Calculate = Callable[["SolveState", IntArray], tuple[PgmOutput, float]]


@dataclass(slots=True)
class SolveState:
    """What one solve varies per scenario: injections, tap positions, load voltage regions."""

    p_kw: FloatArray
    q_kvar: FloatArray
    der_p_kw: FloatArray
    der_q_kvar: FloatArray
    taps: IntArray
    region: IntArray
    loads_given: bool
    ders_given: bool


def update_data(
    conv: PgmConversion, rows: LoadRows, state: SolveState, scen: IntArray, *, complete: bool
) -> dict[ComponentType, np.ndarray]:
    """PGM update arrays ``[len(scen), n]`` for the scenarios ``scen`` (``complete``: every
    load, DER and tap, even those at the model's values)."""
    data: dict[ComponentType, np.ndarray] = {}
    region = state.region[scen]
    if complete or state.loads_given or (region != NORMAL).any():
        p_w, q_var = specified(conv.loads, rows, region, state.p_kw[scen], state.q_kvar[scen])
        upd = initialize_array(DatasetType.update, ComponentType.sym_load, p_w.shape)
        upd["id"] = conv.load_first_id + np.arange(rows.n_rows)
        upd["p_specified"] = p_w
        upd["q_specified"] = q_var
        data[ComponentType.sym_load] = upd
    if complete or state.ders_given:
        shape = (len(scen), len(conv.der_pgm_id))
        upd = initialize_array(DatasetType.update, ComponentType.sym_gen, shape)
        upd["id"] = conv.der_pgm_id
        upd["p_specified"] = state.der_p_kw[scen] * 1e3
        upd["q_specified"] = state.der_q_kvar[scen] * 1e3
        data[ComponentType.sym_gen] = upd
    taps = state.taps[scen]
    if taps.shape[1] and (complete or taps.any()):
        upd = initialize_array(DatasetType.update, ComponentType.transformer, taps.shape)
        upd["id"] = conv.regulators.transformer_pgm_id
        upd["tap_pos"] = taps
        data[ComponentType.transformer] = upd
        cores = core_update(conv.regulators, taps)
        if cores is not None:
            upd = initialize_array(DatasetType.update, ComponentType.shunt, cores["id"].shape)
            for name, values in cores.items():
                upd[name] = values
            data[ComponentType.shunt] = upd
    return data


@dataclass(frozen=True, slots=True)
class Controls:
    """Solves scenarios to rest. ``rows()`` gives the present load rows; ``extend(parts)``
    adds rows for (load, part)s a new law needs (it rebuilds the PGM model)."""

    conv: PgmConversion
    calculate: Calculate
    rows: Callable[[], LoadRows]
    extend: Callable[[np.ndarray], None]
    regulate: bool

    def settle(
        self, state: SolveState, scen: IntArray, full: PgmOutput | None
    ) -> tuple[PgmOutput, float]:
        """Solve ``scen`` from their present taps and regions until nothing moves; their
        results go into ``full`` (made when None)."""
        conv = self.conv
        reg, table = conv.regulators, conv.loads
        active = scen
        elapsed = 0.0
        for iteration in range(MAX_CONTROL_ITERATIONS):
            out, seconds = self.calculate(state, active)
            elapsed += seconds
            full = merge(full, out, active, len(state.taps))
            changed = np.zeros(len(active), dtype=bool)
            if self.regulate and len(reg.transformer_row):
                change = tap_change(out, reg, state.taps[active], conv.bus_u_rated_v)
                state.taps[active] += change
                changed |= change.any(axis=1)
            if table.adaptive.any():
                u = np.asarray(out[ComponentType.node]["u_pu"], dtype=np.float64)
                u = u.mean(axis=2) if u.ndim == 3 else u
                v_bus = u.reshape(len(active), -1)[:, conv.load_node_row]
                new = regions(table, v_bus)
                if iteration >= SETTLE_BEFORE_HOLD:
                    # the laws meet at the band edges, so a load sitting on an edge may keep
                    # its present law: flipping it back and forth would never settle
                    hold = near_band_edge(table, v_bus, BAND_EDGE_HOLD_PU)
                    new = np.where(hold, state.region[active], new)
                changed |= (new != state.region[active]).any(axis=1)
                state.region[active] = new
                lacking = missing(table, self.rows(), new)
                if lacking.any():
                    self.extend(lacking)
            if not changed.any():
                return full, elapsed
            active = active[changed]
        raise NotConvergedError(
            f"regulator taps or load voltage regions still changing after "
            f"{MAX_CONTROL_ITERATIONS} iterations"
        )

    def run(self, state: SolveState, *, chronological: bool) -> tuple[PgmOutput, float]:
        """Every scenario to rest; ``chronological``: each starts from its predecessor's taps.

        For a time series, step 0 settles from the model's taps; the others first start where
        step 0 ended (most keep it), then every step whose start was wrong is solved again
        from the corrected start, until no start changes.
        """
        n = len(state.taps)
        if not chronological or n == 1 or not state.taps.shape[1]:
            return self.settle(state, np.arange(n), None)
        full, elapsed = self.settle(state, np.arange(1), None)
        start = np.zeros_like(state.taps)
        start[1:] = state.taps[0]
        state.taps[1:] = start[1:]
        full, seconds = self.settle(state, np.arange(1, n), full)
        elapsed += seconds
        for _ in range(n):
            carried = carry(start, state.taps)
            moved = np.flatnonzero((carried != start).any(axis=1))
            if not len(moved):
                break
            start = carried
            state.taps[moved] = start[moved]
            full, seconds = self.settle(state, moved, full)
            elapsed += seconds
        return full, elapsed


def carry(start: IntArray, final: IntArray) -> IntArray:
    """Start taps of every step: the final taps of the last earlier step whose taps moved.

    At the chronological solution this is exactly "the previous step's final taps"; as a
    guess it carries a tap change across the following steps at once instead of one per pass.
    """
    out = np.empty_like(start)
    current = np.zeros(start.shape[1], dtype=start.dtype)
    for k in range(len(start)):
        out[k] = current
        if (final[k] != start[k]).any():
            current = final[k]
    return out


def merge(full: PgmOutput | None, part: PgmOutput, scen: IntArray, n: int) -> PgmOutput:
    """Write the scenarios ``scen`` of ``part`` into ``full`` (``n`` scenarios; made if None)."""
    if full is None:
        if len(scen) == n:
            return part
        full = {
            comp: {a: np.zeros((n, *v.shape[1:]), dtype=v.dtype) for a, v in cols.items()}
            for comp, cols in part.items()
        }
    for comp, cols in part.items():
        for attr, values in cols.items():
            full[comp][attr][scen] = values
    return full
