"""One power-flow interface, several engines.

``solve(net)`` runs one snapshot, ``solve_series(net, injections)`` a time series. ``engine``
is ``"auto"`` (power-grid-model when it can represent the model, else OpenDSS), ``"pgm"`` or
``"opendss"``. Engines live in ``openderms.grid.engines``; each says what it cannot represent,
so the automatic choice is explainable.

Signs: ``substation_p_kw`` is the power the source(s) deliver into the network (positive when
the substation imports from transmission; negative under reverse flow). ``p_from_kw`` of a
branch is the power entering it at terminal 1 (bus1 / first winding).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from openderms.errors import EngineUnsupportedError
from openderms.grid.model import Network

EngineName = Literal["auto", "pgm", "opendss"]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class PowerFlowResult:
    """Snapshot result. Node arrays align with ``node_ids`` ("bus.phase"), branch arrays with
    ``branch_ids`` (ids of lines, closed switches, transformers and series reactors)."""

    engine: str
    converged: bool
    iterations: int
    node_ids: tuple[str, ...]
    node_bus: tuple[str, ...]
    v_pu: FloatArray
    v_angle_deg: FloatArray
    branch_kind: tuple[str, ...]
    branch_ids: tuple[str, ...]
    i_max_a: FloatArray
    loading_pct: FloatArray
    p_from_kw: FloatArray
    q_from_kvar: FloatArray
    substation_p_kw: float
    substation_q_kvar: float
    losses_kw: float
    solve_s: float

    def bus_v_range_pu(self) -> dict[str, tuple[float, float]]:
        """Lowest and highest phase voltage of every bus."""
        out: dict[str, tuple[float, float]] = {}
        for bus, v in zip(self.node_bus, self.v_pu.tolist(), strict=True):
            lo, hi = out.get(bus, (v, v))
            out[bus] = (min(lo, v), max(hi, v))
        return out


@dataclass(frozen=True, slots=True)
class InjectionSeries:
    """Per-step injections: rows are time steps, columns follow ``net.loads`` / ``net.ders``.

    Load columns in load convention (positive = consumed), DER columns in generator
    convention (positive = export).
    """

    load_p_kw: FloatArray
    load_q_kvar: FloatArray
    der_p_kw: FloatArray
    der_q_kvar: FloatArray

    @property
    def n_steps(self) -> int:
        return int(self.load_p_kw.shape[0])


@dataclass(frozen=True, slots=True)
class SeriesResult:
    """Time-series result: ``v_pu`` is ``[steps, nodes]``, ``loading_pct`` ``[steps, branches]``."""

    engine: str
    node_ids: tuple[str, ...]
    node_bus: tuple[str, ...]
    branch_ids: tuple[str, ...]
    v_pu: FloatArray
    loading_pct: FloatArray
    substation_p_kw: FloatArray
    losses_kw: FloatArray
    solve_s: float


class PowerFlowEngine(Protocol):
    """What every engine provides."""

    name: str

    def unsupported(self, net: Network) -> tuple[str, ...]:
        """Why this engine cannot represent ``net`` (one reason per element); empty if it can."""
        ...

    def solve(self, net: Network) -> PowerFlowResult: ...

    def solve_series(self, net: Network, injections: InjectionSeries) -> SeriesResult: ...


def pick_engine(net: Network, engine: EngineName = "auto") -> PowerFlowEngine:
    """The engine to use: the one asked for (checked), or the fastest one that fits."""
    from openderms.grid.engines import get_engine

    if engine != "auto":
        chosen = get_engine(engine)
        reasons = chosen.unsupported(net)
        if reasons:
            raise EngineUnsupportedError(chosen.name, reasons)
        return chosen
    fast = get_engine("pgm")
    if not fast.unsupported(net):
        return fast
    return get_engine("opendss")


def solve(net: Network, engine: EngineName = "auto") -> PowerFlowResult:
    """Solve one snapshot of ``net``."""
    return pick_engine(net, engine).solve(net)


def solve_series(
    net: Network, injections: InjectionSeries, engine: EngineName = "auto"
) -> SeriesResult:
    """Solve a time series (one power flow per row of ``injections``)."""
    return pick_engine(net, engine).solve_series(net, injections)
