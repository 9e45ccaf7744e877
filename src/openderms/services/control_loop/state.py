"""What the control loop knows: a view per DER (from telemetry) and the network's state.

``DerView``: last seen, telemetry period, measured output, available power (what it would
export uncontrolled: PV's sun, storage's schedule), headroom, the control the loop believes
in force, the fallback (default) cap, and whether it can be controlled now (not when silent
too long, nor when it ignores its controls).

``GridState``: the network model (``PgmModel``) under the present switch states with its
LinDistFlow model (rebuilt on a switch change), loads (from the profile or measurements) and
``fleet()``: the ``control.Fleet`` the dispatch takes, where a DER that cannot be controlled
is fixed at its fallback output. ``solve(fleet)`` is the power flow with measured injections.

State estimation: SCADA reports the substation's and feeder heads' P/Q/V by exception
(``ingest_measurements``: each message updates the values it carries; a switching drops
the head values until they are reported again). ``estimate(p, q)``
then fits the loads to them with ``grid.estimation`` (power-grid-model WLS: the forecast
loads as pseudo-measurements, DER telemetry, the SCADA values) and ``solve`` uses the
estimated loads; with no SCADA flow, or when the estimate fails (``estimation_note`` says
why), the forecast / AMI loads.

Generator convention for DER (positive = export), load convention for loads (positive =
consumed); ``substation_p_kw`` positive = import. Times UTC-aware.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from openderms.control import Fleet, LinearGrid
from openderms.control.types import FloatArray
from openderms.errors import OpenDermsError
from openderms.grid.engines.pgm_model import PgmModel
from openderms.grid.estimation import ScadaMeasurements, StateEstimate, StateEstimator
from openderms.grid.model import Network
from openderms.grid.powerflow import PowerFlowResult
from openderms.services.control_loop.ports import ControlRequest


@dataclass(slots=True)
class DerView:
    """One DER as the loop sees it (see the module docstring; generator convention)."""

    der_id: str
    aggregator_id: str
    rated_kw: float
    s_kva: float
    telemetry_period_s: float = 30.0
    last_seen: datetime | None = None
    p_kw: float = 0.0
    q_kvar: float = 0.0
    p_available_kw: float = 0.0
    control: ControlRequest | None = None
    fallback_p_max_kw: float | None = None
    silent: bool = False
    ignores_controls: bool = False
    ignoring_since: datetime | None = None
    program_id: str = "-"  # its DER program (the default's policy is chosen per program)

    @property
    def controllable(self) -> bool:
        return not self.silent and not self.ignores_controls

    @property
    def headroom_kw(self) -> float:
        """How much more it could export now (kW, >= 0)."""
        return max(self.p_available_kw - self.p_kw, 0.0)

    @property
    def fallback_p_kw(self) -> float:
        """What it exports at its fallback: its available power under the default cap."""
        if self.fallback_p_max_kw is None:
            return self.p_available_kw
        return min(self.p_available_kw, self.fallback_p_max_kw)

    @property
    def fixed_p_kw(self) -> float:
        """Output assumed when it cannot be controlled: silent -> its fallback; ignoring its
        controls -> what it measures (its available power)."""
        return self.fallback_p_kw if self.silent else self.p_available_kw

    def is_silent(self, now: datetime, factor: float, since: datetime | None = None) -> bool:
        """Not heard from for longer than ``factor`` telemetry periods; never heard from:
        counted from ``since`` (None: not silent)."""
        last = self.last_seen if self.last_seen is not None else since
        if last is None:
            return False
        return now - last > timedelta(seconds=factor * self.telemetry_period_s)

    def ingest(self, payload: Mapping[str, Any]) -> None:
        """Take a telemetry message (``sim.telemetry_payload``'s fields)."""
        at = datetime.fromisoformat(str(payload["at"]))
        if self.last_seen is not None and at < self.last_seen:
            return  # late and superseded
        self.last_seen = at
        self.p_kw = float(payload["p_kw"])
        self.q_kvar = float(payload.get("q_kvar", 0.0))
        self.p_available_kw = float(payload.get("p_available_kw", self.p_kw))
        self.telemetry_period_s = float(payload.get("period_s", self.telemetry_period_s))


class GridState:
    """The network under its present switch states, loads and DER views (module docstring)."""

    def __init__(
        self,
        net: Network,
        aggregator_of: Mapping[str, str] | None = None,
        program_of: Mapping[str, str] | None = None,
    ) -> None:
        agg = aggregator_of or {}
        prog = program_of or {}
        self.model = PgmModel.from_network(net)
        self.linear = LinearGrid.build(net)
        self.load_p_kw = np.array([ld.p_kw for ld in net.loads], dtype=np.float64)
        self.load_q_kvar = np.array([ld.q_kvar for ld in net.loads], dtype=np.float64)
        self.ders: dict[str, DerView] = {
            d.id: DerView(
                d.id,
                agg.get(d.id, "-"),
                d.p_max_kw,
                d.s_kva,
                p_kw=d.p_kw,
                q_kvar=d.q_kvar,
                p_available_kw=d.p_kw,
                program_id=prog.get(d.id, agg.get(d.id, "-")),
            )
            for d in net.ders
        }
        self.switch_changes = 0
        self.scada = ScadaMeasurements()
        self.estimated: StateEstimate | None = None
        self.estimation_note = ""
        self._estimator: StateEstimator | None = None
        self._template = Fleet.from_network(net)
        self._rating_max_kw = np.array([d.p_max_kw for d in net.ders], dtype=np.float64)
        self._rating_min_kw = np.array([d.p_min_kw for d in net.ders], dtype=np.float64)
        self._is_ev = np.array([d.kind == "ev_charger" for d in net.ders], dtype=bool)

    @property
    def net(self) -> Network:
        return self.model.net

    def apply_switch_states(self, states: Mapping[str, bool]) -> bool:
        """Set switch states (``{switch_id: closed}``); True when the topology changed."""
        now = {s.id: s.closed for s in self.net.switches}
        changed = {k: v for k, v in states.items() if now.get(k) != v}
        if not changed:
            return False
        self.model = self.model.with_switch_states(changed)
        self.linear = LinearGrid.build(self.model.net)
        self._estimator = None
        # head flows measured before the switching describe the old topology: drop them
        self.scada = dataclasses.replace(self.scada, head_p_kw={}, head_q_kvar={}, head_v_pu={})
        self.switch_changes += 1
        return True

    def ingest_measurements(self, payload: Mapping[str, Any]) -> None:
        """SCADA / AMI: ``{"substation": {"p_kw", "q_kvar", "v_pu"}, "feeder_heads":
        {feeder_id: {"p_kw", "q_kvar", "v_pu"}}, "feeder_heads_p_kw": {feeder_id: p_kw},
        "loads": {load_id: {"p_kw": .., "q_kvar": ..}}}``, every part optional (reported by
        exception: what a message carries replaces what was known). Loads in load convention;
        ``substation.p_kw`` positive = import; head P positive into the feeder."""
        self.scada = merge_scada(self.scada, payload)
        loads = payload.get("loads") or {}
        if not loads:
            return
        index = {ld.id: i for i, ld in enumerate(self.net.loads)}
        for load_id, pq in loads.items():
            i = index.get(load_id)
            if i is not None:
                self.load_p_kw[i] = float(pq.get("p_kw", self.load_p_kw[i]))
                self.load_q_kvar[i] = float(pq.get("q_kvar", self.load_q_kvar[i]))

    def set_loads(self, load_p_kw: FloatArray, load_q_kvar: FloatArray) -> None:
        """Loads from a profile (load convention), in ``net.loads`` order."""
        self.load_p_kw = np.asarray(load_p_kw, dtype=np.float64).copy()
        self.load_q_kvar = np.asarray(load_q_kvar, dtype=np.float64).copy()

    def fleet(self) -> Fleet:
        """The dispatch's fleet in ``net.ders`` order: reference = available power (a DER
        that cannot be controlled: its fallback output, fixed), present = measured output.
        Bounds follow ``Fleet.from_network`` (PV only lowers its export, storage moves in
        its rating, an idle EV charger cannot move), computed on arrays."""
        t = self._template
        views = [self.ders[i] for i in t.ids]
        ok = np.fromiter((v.controllable for v in views), bool, len(views))
        ref = np.fromiter(
            (v.p_available_kw if v.controllable else v.fixed_p_kw for v in views),
            np.float64,
            len(views),
        )
        p = np.minimum(np.maximum(ref, self._rating_min_kw), np.maximum(self._rating_max_kw, ref))
        gen, ev = ~t.is_storage, self._is_ev
        p_max = np.where(gen, np.maximum(p, 0.0), np.maximum(self._rating_max_kw, p))
        p_min = np.where(
            gen, np.minimum(np.maximum(self._rating_min_kw, 0.0), p), self._rating_min_kw
        )
        p_min = np.minimum(p_min, p)
        idle = ev & (p == 0.0)
        p_max = np.where(idle, 0.0, np.where(ev, np.minimum(p_max, 0.0), p_max))
        p_min = np.where(idle, 0.0, p_min)
        measured = np.fromiter((v.p_kw for v in views), np.float64, len(views))
        silent = np.fromiter((v.silent for v in views), bool, len(views))
        q_now = np.where(
            silent, 0.0, np.fromiter((v.q_kvar for v in views), np.float64, len(views))
        )
        return dataclasses.replace(
            t,
            p_kw=p,
            p_max_kw=p_max,
            p_min_kw=p_min,
            q_kvar=np.zeros(len(views)),
            controllable=ok,
            online=self.linear.der_col >= 0,
            p_present_kw=np.where(ok, measured, p),
            q_present_kvar=q_now,
        )

    def estimate(self, der_p_kw: FloatArray, der_q_kvar: FloatArray) -> StateEstimate | None:
        """Fit the loads to SCADA with DER at ``der_p_kw``/``der_q_kvar`` (their telemetry);
        None (and ``estimation_note``) when there is nothing to fit or the fit failed."""
        self.estimated = None
        if not self.scada.has_flows:
            self.estimation_note = "no substation or feeder-head flow measured"
            return None
        try:
            if self._estimator is None:
                self._estimator = StateEstimator(self.model)
            self.estimated = self._estimator.estimate(
                self.load_p_kw, self.load_q_kvar, der_p_kw, der_q_kvar, self.scada
            )
            self.estimation_note = ""
        except (OpenDermsError, ValueError) as exc:
            self.estimation_note = f"state estimation failed, loads as forecast: {exc}"
        return self.estimated

    def solve(self, p_kw: FloatArray, q_kvar: FloatArray) -> PowerFlowResult:
        """AC power flow with DER at ``p_kw``/``q_kvar`` (generator convention) and the loads
        (the estimated ones when there is an estimate)."""
        est = self.estimated
        return self.model.solve(
            load_p_kw=self.load_p_kw if est is None else est.load_p_kw,
            load_q_kvar=self.load_q_kvar if est is None else est.load_q_kvar,
            der_p_kw=p_kw,
            der_q_kvar=q_kvar,
            error_tolerance=1e-6,
        )


def merge_scada(old: ScadaMeasurements, payload: Mapping[str, Any]) -> ScadaMeasurements:
    """``old`` with the values ``payload`` carries (see ``GridState.ingest_measurements``)."""
    sub = payload.get("substation") or {}
    heads = payload.get("feeder_heads") or {}
    p = dict(old.head_p_kw)
    q = dict(old.head_q_kvar)
    v = dict(old.head_v_pu)
    for fid, value in (payload.get("feeder_heads_p_kw") or {}).items():
        p[str(fid)] = float(value)
    for fid, m in heads.items():
        for target, key in ((p, "p_kw"), (q, "q_kvar"), (v, "v_pu")):
            if m.get(key) is not None:
                target[str(fid)] = float(m[key])

    def pick(key: str, was: float | None) -> float | None:
        return float(sub[key]) if sub.get(key) is not None else was

    return ScadaMeasurements(
        substation_p_kw=pick("p_kw", old.substation_p_kw),
        substation_q_kvar=pick("q_kvar", old.substation_q_kvar),
        substation_v_pu=pick("v_pu", old.substation_v_pu),
        head_p_kw=p,
        head_q_kvar=q,
        head_v_pu=v,
    )
