"""State estimation from SCADA: power-grid-model's weighted least squares (WLS).

SCADA measures little on a distribution network: the substation's P/Q/V and each feeder
head's P (often Q, sometimes V), reported by exception. DER report their own output. The
loads are known only from forecasts or profiles, which can be biased by 20-30 %. The
estimator fits the network state to all of it with power-grid-model's
``calculate_state_estimation`` (symmetric, iterative linear):

- every load is a *pseudo-measurement* (``sym_power_sensor`` on its ``sym_load``) at its
  forecast with a wide sigma, whose variance grows with the load's size (``load_rel`` of
  ``sqrt(S_i * S_mean)``), so a feeder's mismatch is shared in proportion to its loads
  (the classic feeder load allocation, done by the library);
- every DER is a sensor at its telemetry (``der_sigma_kw``);
- a feeder head's P/Q is a branch sensor (``head_rel`` of the flow plus ``head_floor_kw``);
  an ideal head switch (a PGM ``link``, which takes no sensor) is modelled for the estimate
  as a line of 1 mOhm; a missing Q gets a sigma that makes it carry no weight;
- the substation's P/Q is a sensor on the source; its V (else the source's set point, with
  a wider sigma) and any feeder head's V are ``sym_voltage_sensor``s.

``StateEstimator(model)`` builds the estimation model once per topology (switch states as
in ``model.net``); ``estimate(...)`` updates the sensors and solves (milliseconds on a
thousand nodes). The result's loads (load convention, kW/kvar, ``net.loads`` order) are what
a power flow should use to reproduce the measured state. Signs: generator convention for
DER; ``substation_p_kw`` positive = import; head flows positive from the substation into
the feeder. Limits: the symmetric calculation only (an asymmetric model raises
``EngineUnsupportedError``); regulators at the model's tap positions; loads as constant
power in the estimate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from power_grid_model import (
    CalculationMethod,
    ComponentType,
    DatasetType,
    LoadGenType,
    MeasuredTerminalType,
    PowerGridModel,
    initialize_array,
)
from power_grid_model.errors import PowerGridError  # type: ignore[attr-defined]

from openderms.errors import (
    EngineUnsupportedError,
    PowerFlowError,
    ValidationError,
    ValidationIssue,
)
from openderms.grid.engines.pgm_loads import NORMAL
from openderms.grid.engines.pgm_model import PgmModel
from openderms.grid.engines.pgm_types import FloatArray, IntArray

C = ComponentType
_NO_WEIGHT_W = 1e9  # sigma (W, var) of a value not measured: carries no weight
_HEAD_R_OHM = 1e-3


@dataclass(frozen=True, slots=True)
class ScadaMeasurements:
    """What SCADA last reported (kW, kvar, pu; None / absent: not measured)."""

    substation_p_kw: float | None = None
    substation_q_kvar: float | None = None
    substation_v_pu: float | None = None
    head_p_kw: Mapping[str, float] = field(default_factory=dict)  # feeder id -> P into it
    head_q_kvar: Mapping[str, float] = field(default_factory=dict)
    head_v_pu: Mapping[str, float] = field(default_factory=dict)

    @property
    def has_flows(self) -> bool:
        """Whether there is any power measurement to estimate from."""
        return self.substation_p_kw is not None or bool(self.head_p_kw)


@dataclass(frozen=True, slots=True)
class EstimationSigmas:
    """Standard deviations: loads ``load_rel`` (of ``sqrt(S_i * S_mean)``, floor
    ``load_floor_kw``), DER telemetry ``der_sigma_kw``, head and substation flows ``head_rel``
    of the value plus ``head_floor_kw``, voltages ``v_pu`` (``v_setpoint_pu`` for the
    source's set point when the substation V is not measured)."""

    load_rel: float = 1.0
    load_floor_kw: float = 0.1
    der_sigma_kw: float = 0.5
    head_rel: float = 0.005
    head_floor_kw: float = 1.0
    v_pu: float = 0.005
    v_setpoint_pu: float = 0.02


@dataclass(frozen=True, slots=True)
class StateEstimate:
    """Estimated loads (load convention, ``net.loads`` order), bus voltages (pu, ``net.buses``
    order), feeder-head flows (kW, by feeder id) and the WLS fit's largest head mismatch."""

    load_p_kw: FloatArray
    load_q_kvar: FloatArray
    bus_v_pu: FloatArray
    head_p_kw: dict[str, float]
    max_head_mismatch_kw: float


class StateEstimator:
    """power-grid-model WLS state estimation of one topology (module docstring)."""

    def __init__(self, model: PgmModel, sigmas: EstimationSigmas | None = None) -> None:
        if not model.symmetric:
            raise EngineUnsupportedError("pgm-se", ("an asymmetric model (symmetric only)",))
        self.model, self.sigmas = model, sigmas or EstimationSigmas()
        net, conv = model.net, model.conversion
        data = {k: v.copy() for k, v in conv.data.items()}
        for i, sw in enumerate(net.switches):
            comp = C.link if conv.switch_is_link[i] else C.line
            data[comp]["from_status"][conv.switch_row[i]] = int(sw.closed)
            data[comp]["to_status"][conv.switch_row[i]] = int(sw.closed)
        self.feeders = tuple(f.id for f in net.feeders)
        head_ids, data = _head_branches(model, data)
        n_l, n_d, n_f = len(net.loads), len(net.ders), len(self.feeders)
        next_id = conv.load_first_id + n_l
        load = initialize_array(DatasetType.input, C.sym_load, n_l)
        load["id"] = conv.load_first_id + np.arange(n_l)
        load["node"] = conv.load_node_row
        load["status"] = 1
        load["type"] = LoadGenType.const_power
        data[C.sym_load] = load
        ps = initialize_array(DatasetType.input, C.sym_power_sensor, n_l + n_d + n_f + 1)
        ps["id"] = next_id + np.arange(len(ps))
        ps["measured_object"] = np.concatenate(
            [load["id"], conv.der_pgm_id, head_ids, data[C.source]["id"][:1]]
        )
        ps["measured_terminal_type"] = np.concatenate(
            [
                np.full(n_l, MeasuredTerminalType.load),
                np.full(n_d, MeasuredTerminalType.generator),
                np.full(n_f, MeasuredTerminalType.branch_from),
                [MeasuredTerminalType.source],
            ]
        )
        ps["p_sigma"] = ps["q_sigma"] = _NO_WEIGHT_W
        data[C.sym_power_sensor] = ps
        head_to = {f: _to_node(data, h) for f, h in zip(self.feeders, head_ids, strict=True)}
        v_nodes = [int(data[C.source]["node"][0]), *head_to.values()]
        vs = initialize_array(DatasetType.input, C.sym_voltage_sensor, len(v_nodes))
        vs["id"] = next_id + len(ps) + np.arange(len(vs))
        vs["measured_object"] = v_nodes
        vs["u_sigma"] = 1e9
        vs["u_measured"] = data[C.node]["u_rated"][v_nodes]
        data[C.sym_voltage_sensor] = vs
        self._u_rated: FloatArray = data[C.node]["u_rated"][v_nodes].astype(np.float64)
        self._u_ref = float(data[C.source]["u_ref"][0])
        self._ps, self._vs = ps.copy(), vs.copy()
        self._head_ids: IntArray = np.asarray(head_ids, dtype=np.int64)
        try:
            self._pgm = PowerGridModel(data, system_frequency=net.frequency_hz)
        except PowerGridError as exc:
            raise PowerFlowError(f"power-grid-model rejected the estimation model: {exc}") from exc

    def estimate(
        self,
        load_p_kw: FloatArray,
        load_q_kvar: FloatArray,
        der_p_kw: FloatArray,
        der_q_kvar: FloatArray,
        scada: ScadaMeasurements,
    ) -> StateEstimate:
        """The most likely state given forecasts (loads), telemetry (DER) and ``scada``."""
        s, net = self.sigmas, self.model.net
        unknown = set(scada.head_p_kw) | set(scada.head_q_kvar) | set(scada.head_v_pu)
        unknown -= set(self.feeders)
        if unknown:
            raise ValidationError(
                [
                    ValidationIssue("scada", net.name, "feeder", f, "a feeder of the network")
                    for f in sorted(unknown)
                ]
            )
        n_l, n_d = len(load_p_kw), len(der_p_kw)
        ps = self._ps.copy()
        size = np.maximum(np.hypot(load_p_kw, load_q_kvar), s.load_floor_kw)
        sig = s.load_rel * np.sqrt(size * float(size.mean())) * 1e3
        ps["p_measured"][:n_l], ps["q_measured"][:n_l] = load_p_kw * 1e3, load_q_kvar * 1e3
        ps["p_sigma"][:n_l] = ps["q_sigma"][:n_l] = sig
        d = slice(n_l, n_l + n_d)
        ps["p_measured"][d], ps["q_measured"][d] = der_p_kw * 1e3, der_q_kvar * 1e3
        ps["p_sigma"][d] = ps["q_sigma"][d] = s.der_sigma_kw * 1e3
        flows: list[tuple[float | None, float | None]] = [
            (scada.head_p_kw.get(f), scada.head_q_kvar.get(f)) for f in self.feeders
        ]
        flows.append((scada.substation_p_kw, scada.substation_q_kvar))
        for k, (p, q) in enumerate(flows):
            row = n_l + n_d + k
            for name, value in (("p", p), ("q", q)):
                if value is not None:
                    ps[f"{name}_measured"][row] = value * 1e3
                    ps[f"{name}_sigma"][row] = (s.head_rel * abs(value) + s.head_floor_kw) * 1e3
        vs = self._vs.copy()
        v_meas = [scada.substation_v_pu, *(scada.head_v_pu.get(f) for f in self.feeders)]
        for k, v in enumerate(v_meas):
            if v is not None:
                vs["u_measured"][k], vs["u_sigma"][k] = (
                    v * self._u_rated[k],
                    s.v_pu * self._u_rated[k],
                )
        if v_meas[0] is None:  # the source's set point stands in for the substation V
            vs["u_measured"][0] = self._u_ref * self._u_rated[0]
            vs["u_sigma"][0] = s.v_setpoint_pu * self._u_rated[0]
        cols = ("id", "p_measured", "q_measured", "p_sigma", "q_sigma")
        update = {  # columnar: only these attributes change
            C.sym_power_sensor: {c: np.ascontiguousarray(ps[c]) for c in cols},
            C.sym_voltage_sensor: {
                c: np.ascontiguousarray(vs[c]) for c in ("id", "u_measured", "u_sigma")
            },
        }
        try:
            self._pgm.update(update_data=update)  # every sensor, every call: nothing stale
            out = self._pgm.calculate_state_estimation(
                symmetric=True,
                error_tolerance=1e-6,
                max_iterations=50,
                calculation_method=CalculationMethod.newton_raphson,
            )
        except PowerGridError as exc:
            raise PowerFlowError(f"power-grid-model state estimation failed: {exc}") from exc
        p_from = {
            int(i): float(p) / 1e3
            for comp in (C.line, C.asym_line)
            if comp in out
            for i, p in zip(out[comp]["id"], out[comp]["p_from"], strict=True)
        }
        head = {
            f: p_from[h]
            for f, h in zip(self.feeders, self._head_ids.tolist(), strict=True)
            if h in p_from
        }
        mismatch = [abs(head[f] - p) for f, p in scada.head_p_kw.items() if f in head]
        bus_v = np.asarray(out[C.node]["u_pu"], dtype=np.float64)
        law_p, law_q = self._load_law(bus_v)
        return StateEstimate(
            load_p_kw=np.asarray(out[C.sym_load]["p"], dtype=np.float64) / 1e3 / law_p,
            load_q_kvar=np.asarray(out[C.sym_load]["q"], dtype=np.float64) / 1e3 / law_q,
            bus_v_pu=bus_v,
            head_p_kw=head,
            max_head_mismatch_kw=max(mismatch, default=0.0),
        )

    def _load_law(self, bus_v_pu: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Each load's consumption over its nominal at the estimated voltage (its P, I, Z
        parts in the normal band): the estimate's constant-power loads divided by it give
        the nominal powers the model's load law turns back into that consumption."""
        conv = self.model.conversion
        v = bus_v_pu[conv.load_node_row]
        powers = np.stack([np.ones_like(v), v, v * v], axis=1)
        out = []
        for coef in (conv.loads.coef_p, conv.loads.coef_q):
            law = (coef[:, NORMAL, :] * powers).sum(axis=1)
            out.append(np.where(np.abs(law) > 1e-6, law, 1.0))
        return out[0], out[1]


def estimate_state(
    model: PgmModel,
    scada: ScadaMeasurements,
    *,
    load_p_kw: FloatArray,
    load_q_kvar: FloatArray,
    der_p_kw: FloatArray,
    der_q_kvar: FloatArray,
    sigmas: EstimationSigmas | None = None,
) -> StateEstimate:
    """One estimate (builds a ``StateEstimator``; keep one to estimate repeatedly)."""
    est = StateEstimator(model, sigmas)
    return est.estimate(load_p_kw, load_q_kvar, der_p_kw, der_q_kvar, scada)


def _head_branches(
    model: PgmModel, data: dict[ComponentType, np.ndarray]
) -> tuple[list[int], dict[ComponentType, np.ndarray]]:
    """The PGM id of every feeder head branch; ideal head switches (links, which take no
    sensor) become 1 mOhm lines in ``data``."""
    net, conv = model.net, model.conversion
    sw = {s.id: i for i, s in enumerate(net.switches)}
    ln = {x.id: i for i, x in enumerate(net.lines)}
    ids: list[int] = []
    link_rows: list[int] = []
    for f in net.feeders:
        if f.head in sw:
            i = sw[f.head]
            row = int(conv.switch_row[i])
            if conv.switch_is_link[i]:
                link_rows.append(row)
                ids.append(int(data[C.link]["id"][row]))
            else:
                ids.append(int(data[C.line]["id"][row]))
        elif f.head in ln:
            ids.append(int(data[C.asym_line]["id"][ln[f.head]]))
        else:
            issue = ValidationIssue("feeder", f.id, "head", f.head, "a switch or line id")
            raise ValidationError([issue])
    if link_rows:
        link = data[C.link]
        keep = np.ones(len(link), dtype=bool)
        keep[link_rows] = False
        extra = initialize_array(DatasetType.input, C.line, len(link_rows))
        for col in ("id", "from_node", "to_node", "from_status", "to_status"):
            extra[col] = link[col][link_rows]
        extra["r1"] = extra["x1"] = _HEAD_R_OHM
        extra["c1"] = extra["tan1"] = 0.0
        extra["i_n"] = 1e5
        data[C.link] = link[keep]
        old = data.get(C.line)
        data[C.line] = extra if old is None or not len(old) else np.concatenate([old, extra])
    return ids, data


def _to_node(data: Mapping[ComponentType, np.ndarray], branch_id: int) -> int:
    for comp in (C.line, C.asym_line, C.link):
        arr = data.get(comp)
        if arr is not None and len(arr):
            hit = np.flatnonzero(arr["id"] == branch_id)
            if len(hit):
                return int(arr["to_node"][hit[0]])
    raise PowerFlowError(f"no branch with PGM id {branch_id}")
