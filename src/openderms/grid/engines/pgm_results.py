"""power-grid-model output arrays -> our per-node / per-branch result arrays.

Every function works on batch-shaped output (scenarios first); a snapshot is a batch of one.

Conventions of the arrays produced here:
- nodes are ``"bus.1"``, ``"bus.2"``, ``"bus.3"`` for every bus in ``net.buses`` order; ``v_pu``
  is on the bus's ``v_base_kv_ln``; a de-energised node (isolated by an open switch) reports
  ``v_pu = 0.0`` and angle 0, as OpenDSS does;
- branches are the lines, the closed switches, the transformers and the series reactors, in that
  order and in network order within each kind;
- ``i_max_a`` is the largest phase current at either terminal (for a transformer that is usually
  the low-voltage side); ``loading_pct`` is ``i_max_a`` over ``ampacity_a`` for lines, switches
  and reactors, and for transformers the largest winding current over that winding's rated
  current ``s_kva / (√3·v_kv)`` (as OpenDSS rates them: at low voltage a transformer is more
  loaded than its kVA ratio says);
- ``p_from_kw``/``q_from_kvar`` enter the branch at terminal 1 (bus1 / winding 1);
- ``substation_p_kw`` is what the sources deliver into the network (positive = import);
- ``losses_kw`` is the active power lost in branches and shunts (series, core and shunt-reactor
  losses), so ``substation_p_kw = loads - DER + losses_kw`` holds to solver tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from power_grid_model import ComponentType

from openderms.grid.engines.pgm_convert import PgmConversion
from openderms.grid.engines.pgm_types import AttrFilter, FloatArray, IntArray, PgmOutput
from openderms.grid.model import Network

_LINE, _LINK = ComponentType.asym_line, ComponentType.link
_TR2, _TR3 = ComponentType.transformer, ComponentType.three_winding_transformer
_SERIES = ComponentType.line  # series reactors and switches with impedance
_BRANCH = ["i_from", "i_to", "p_from", "q_from", "p_to", "q_to", "loading"]
#: the output attributes a snapshot needs
SNAPSHOT_ATTRS: AttrFilter = {
    ComponentType.node: ["u_pu", "u_angle"],
    _LINE: _BRANCH,
    _LINK: _BRANCH,
    _TR2: _BRANCH,
    _SERIES: _BRANCH,
    _TR3: ["i_1", "i_2", "i_3", "p_1", "q_1", "p_2", "q_2", "p_3"],
    ComponentType.source: ["p", "q"],
    ComponentType.shunt: ["p", "q", "i"],
}
#: ... and a batch (voltages, loading, totals)
BATCH_ATTRS: AttrFilter = {
    ComponentType.node: ["u_pu"],
    _LINE: ["p_from", "p_to", "loading"],
    _LINK: ["i_from", "i_to", "p_from", "p_to"],
    _TR2: ["i_from", "i_to", "p_from", "p_to", "q_to"],
    _SERIES: ["i_from", "i_to", "p_from", "p_to", "loading"],
    _TR3: ["i_1", "i_2", "i_3", "p_1", "p_2", "q_2", "p_3"],
    ComponentType.source: ["p"],
    ComponentType.shunt: ["p", "q", "i"],
}


@dataclass(frozen=True, slots=True)
class BranchLayout:
    """Which PGM rows make up the result's branch columns, in result order."""

    branch_ids: tuple[str, ...]
    branch_kind: tuple[str, ...]
    closed: IntArray  # net.switches indices of the closed switches
    closed_is_link: np.ndarray  # ... whether each is a PGM link (else a line row)
    closed_row: IntArray  # ... and its row in the link or line array
    closed_ampacity_a: FloatArray
    transformer_order: IntArray  # result order -> row in concat(two-winding, three-winding)
    transformer_rated_a: FloatArray  # [rows of concat(two, three), 3] rated current per winding
    core_shunt_row: IntArray  # [rows of concat(two, three)] shunt row of the core, or -1
    n_reactors: int  # the first PGM line rows are series reactors


@dataclass(frozen=True, slots=True)
class StepArrays:
    """Per-scenario results: node arrays ``[S, N]``, branch arrays ``[S, B]``, totals ``[S]``."""

    v_pu: FloatArray
    v_angle_deg: FloatArray | None
    i_max_a: FloatArray | None
    loading_pct: FloatArray
    p_from_kw: FloatArray | None
    q_from_kvar: FloatArray | None
    substation_p_kw: FloatArray
    substation_q_kvar: FloatArray | None
    losses_kw: FloatArray


def node_labels(net: Network) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``("bus.1", "bus.2", "bus.3", ...)`` and the bus of each node."""
    ids = tuple(f"{b.id}.{k}" for b in net.buses for k in (1, 2, 3))
    buses = tuple(b.id for b in net.buses for _ in (1, 2, 3))
    return ids, buses


def branch_layout(net: Network, conv: PgmConversion) -> BranchLayout:
    """The branch columns for the switch states in ``net``."""
    closed = np.array([i for i, s in enumerate(net.switches) if s.closed], dtype=np.int64)
    two, three = conv.transformer_two.tolist(), conv.transformer_three.tolist()
    position = {ti: k for k, ti in enumerate(two + three)}
    order = np.array([position[i] for i in range(len(net.transformers))], dtype=np.int64)
    reactors = [net.reactors[i] for i in conv.reactor_series.tolist()]
    ids = (
        [ln.id for ln in net.lines]
        + [net.switches[i].id for i in closed.tolist()]
        + [tr.id for tr in net.transformers]
        + [rx.id for rx in reactors]
    )
    kinds = (
        ["line"] * len(net.lines)
        + ["switch"] * len(closed)
        + ["transformer"] * len(net.transformers)
        + ["reactor"] * len(reactors)
    )
    return BranchLayout(
        branch_ids=tuple(ids),
        branch_kind=tuple(kinds),
        closed=closed,
        closed_is_link=conv.switch_is_link[closed],
        closed_row=conv.switch_row[closed],
        closed_ampacity_a=conv.switch_ampacity_a[closed],
        transformer_order=order,
        transformer_rated_a=conv.transformer_rated_a[two + three],
        core_shunt_row=conv.core_shunt_row[two + three],
        n_reactors=len(reactors),
    )


def col(out: PgmOutput, comp: ComponentType, attr: str, n_steps: int) -> FloatArray:
    """One output attribute as float ``[S, n]`` or ``[S, n, 3]``; ``[S, 0]`` if absent."""
    data = out.get(comp)
    if data is None:
        return np.zeros((n_steps, 0), dtype=np.float64)
    arr = np.asarray(data[attr], dtype=np.float64)
    return arr.reshape((n_steps, *arr.shape[-2:])) if arr.ndim == 3 else arr.reshape(n_steps, -1)


def _phase_max(a: FloatArray) -> FloatArray:
    return a.max(axis=2) if a.ndim == 3 else a


def _phase_sum(a: FloatArray) -> FloatArray:
    return a.sum(axis=2) if a.ndim == 3 else a


_SHIFT_DEG = np.array([0.0, -120.0, 120.0])


class _Reader:
    """Column access that gathers the result's branch order from PGM's component arrays."""

    def __init__(self, out: PgmOutput, layout: BranchLayout, n_steps: int) -> None:
        self.out, self.layout, self.n = out, layout, n_steps

    def get(self, comp: ComponentType, attr: str) -> FloatArray:
        return col(self.out, comp, attr, self.n)

    def i_max(self, comp: ComponentType) -> FloatArray:
        return np.maximum(_phase_max(self.get(comp, "i_from")), _phase_max(self.get(comp, "i_to")))

    def switches(self, link: FloatArray, series: FloatArray) -> FloatArray:
        """Closed-switch columns ``[S, n_closed]`` from link and line arrays ``[S, rows]``."""
        lay = self.layout
        out = np.zeros((self.n, len(lay.closed)), dtype=np.float64)
        is_link = np.asarray(lay.closed_is_link, dtype=bool)
        out[:, is_link] = link[:, lay.closed_row[is_link]]
        out[:, ~is_link] = series[:, lay.closed_row[~is_link]]
        return out

    def transformers(self, two: FloatArray, three: FloatArray) -> FloatArray:
        return np.concatenate([two, three], axis=1)[:, self.layout.transformer_order]

    def branches(
        self,
        line: FloatArray,
        link: FloatArray,
        two: FloatArray,
        three: FloatArray,
        series: FloatArray,
    ) -> FloatArray:
        """Result-order branch columns from per-component ``[S, rows]`` arrays."""
        return np.concatenate(
            [
                line,
                self.switches(link, series),
                self.transformers(two, three),
                series[:, : self.layout.n_reactors],
            ],
            axis=1,
        )

    def flow(self, comp: ComponentType, attr: str) -> FloatArray:
        return _phase_sum(self.get(comp, attr))

    def transformer_currents(self) -> tuple[FloatArray, FloatArray]:
        """Largest phase current and its ratio to the winding's rated current, ``[S, n_tr]``.

        OpenDSS rates a winding by kVA/(√3·kV) and counts the magnetising current (a shunt at
        winding 2 here) in winding 2's terminal current; so does this.
        """
        lay = self.layout
        two = [self.get(_TR2, a) for a in ("i_from", "i_to", "p_to", "q_to")]
        three = [self.get(_TR3, a) for a in ("i_1", "i_2", "p_2", "q_2", "i_3")]
        n2 = two[0].shape[1]
        cores = lay.core_shunt_row
        i1 = np.concatenate([_phase_max(two[0]), _phase_max(three[0])], axis=1)
        i2 = np.concatenate(
            [
                _phase_max(self._with_core(two[1], two[2], two[3], cores[:n2])),
                _phase_max(self._with_core(three[1], three[2], three[3], cores[n2:])),
            ],
            axis=1,
        )
        i3 = np.concatenate([np.zeros_like(_phase_max(two[0])), _phase_max(three[4])], axis=1)
        stack = np.stack([i1, i2, i3], axis=2)  # [S, rows, winding]
        with np.errstate(invalid="ignore"):
            ratio = np.nan_to_num(stack / lay.transformer_rated_a, nan=0.0)
        order = lay.transformer_order
        return stack.max(axis=2)[:, order], ratio.max(axis=2)[:, order]

    def _with_core(
        self, i_w: FloatArray, p_w: FloatArray, q_w: FloatArray, rows: IntArray
    ) -> FloatArray:
        """Winding-2 currents plus the core's (``rows``: shunt row per transformer, or -1).

        Both flow at the same bus, so currents scale with apparent power: |I| = |S|·i/|s|.
        """
        has = rows >= 0
        if not has.any():
            return i_w
        sh = rows[has]
        s_t = p_w[:, has] + 1j * q_w[:, has]
        shunt = ComponentType.shunt
        s_sh = self.get(shunt, "p")[:, sh] + 1j * self.get(shunt, "q")[:, sh]
        i_sh = self.get(ComponentType.shunt, "i")[:, sh]
        use_t = np.abs(s_t) >= np.abs(s_sh)
        ref_s = np.where(use_t, np.abs(s_t), np.abs(s_sh))
        ref_i = np.where(use_t, i_w[:, has], i_sh)
        out = i_w.copy()
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, has] = np.where(ref_s > 0, np.abs(s_t + s_sh) * ref_i / ref_s, 0.0)
        return out


def assemble(out: PgmOutput, layout: BranchLayout, n_steps: int, *, snapshot: bool) -> StepArrays:
    """Read a PGM output dataset (``snapshot``: with angles, currents and flows)."""
    n = n_steps
    rd = _Reader(out, layout, n)
    u = rd.get(ComponentType.node, "u_pu")
    v_pu = u.reshape(n, -1) if u.ndim == 3 else np.repeat(u, 3, axis=1)

    kinds = (_LINE, _LINK, _TR2, _SERIES)
    losses_w = sum(
        (rd.flow(c, "p_from").sum(axis=1) + rd.flow(c, "p_to").sum(axis=1) for c in kinds),
        start=rd.flow(ComponentType.shunt, "p").sum(axis=1),
    )
    for k in (1, 2, 3):
        losses_w = losses_w + rd.flow(_TR3, f"p_{k}").sum(axis=1)
    sub_p = rd.flow(ComponentType.source, "p").sum(axis=1)

    i_link, i_series = rd.i_max(_LINK), rd.i_max(_SERIES)
    i_tr, loading_tr = rd.transformer_currents()
    loading = np.concatenate(
        [
            rd.get(_LINE, "loading"),
            rd.switches(i_link, i_series) / layout.closed_ampacity_a,
            loading_tr,
            rd.get(_SERIES, "loading")[:, : layout.n_reactors],
        ],
        axis=1,
    )
    if not snapshot:
        return StepArrays(
            v_pu=v_pu,
            v_angle_deg=None,
            i_max_a=None,
            loading_pct=loading * 100.0,
            p_from_kw=None,
            q_from_kvar=None,
            substation_p_kw=sub_p / 1e3,
            substation_q_kvar=None,
            losses_kw=losses_w / 1e3,
        )

    ang = np.degrees(rd.get(ComponentType.node, "u_angle"))
    ang = ang if ang.ndim == 3 else ang[:, :, None] + _SHIFT_DEG
    ang = np.where(v_pu.reshape(ang.shape) > 0.0, ang, 0.0).reshape(n, -1)
    i_max = np.concatenate(
        [
            rd.i_max(_LINE),
            rd.switches(i_link, i_series),
            i_tr,
            i_series[:, : layout.n_reactors],
        ],
        axis=1,
    )
    p_from = rd.branches(
        rd.flow(_LINE, "p_from"),
        rd.flow(_LINK, "p_from"),
        rd.flow(_TR2, "p_from"),
        rd.flow(_TR3, "p_1"),
        rd.flow(_SERIES, "p_from"),
    )
    q_from = rd.branches(
        rd.flow(_LINE, "q_from"),
        rd.flow(_LINK, "q_from"),
        rd.flow(_TR2, "q_from"),
        rd.flow(_TR3, "q_1"),
        rd.flow(_SERIES, "q_from"),
    )
    return StepArrays(
        v_pu=v_pu,
        v_angle_deg=np.asarray((ang + 180.0) % 360.0 - 180.0, dtype=np.float64),
        i_max_a=i_max,
        loading_pct=loading * 100.0,
        p_from_kw=p_from / 1e3,
        q_from_kvar=q_from / 1e3,
        substation_p_kw=sub_p / 1e3,
        substation_q_kvar=rd.flow(ComponentType.source, "q").sum(axis=1) / 1e3,
        losses_kw=losses_w / 1e3,
    )
