"""``ControlLoop.step(now)``: one pass of real-time constraint management.

ingest (telemetry, measurements, switch states, planned switching orders: the ``ingest_*``
methods, called as messages arrive) -> responses (delivery tracking) -> switching orders due
(applied ``order_lead_s`` before their start, reverted at their end; ``orders``) -> failsafe
(silent DER, DER ignoring controls) -> state (loads fitted to SCADA by state estimation,
AC power flow with measured injections) -> violations (``control.detect_violations``) ->
episodes (hysteresis, hold time) -> dispatch (heuristic, then the AC-checked OPF) -> plan ->
queue (supersession, renewal) -> revert (controls end when every episode has cleared) ->
deliver (priority, retries). Every decision goes to the audit log.

The loop is synchronous and takes ``now`` from its caller, so tests drive it with a fake
clock; ``runner.ControlLoopRunner`` drives it from the bus. Signs: generator convention for
DER (positive = export), ``substation_p_kw`` positive = import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from openderms.control import (
    CLEARING_HYSTERESIS,
    ControlPlan,
    DispatchOptions,
    Margins,
    NetLoadLimits,
    detect_violations,
    dispatch_heuristic,
    dispatch_opf,
)
from openderms.control.types import Fleet
from openderms.errors import ValidationError
from openderms.grid.powerflow import PowerFlowResult
from openderms.services.control_loop import failsafe
from openderms.services.control_loop.audit import AuditLog
from openderms.services.control_loop.failsafe import DefaultPolicy
from openderms.services.control_loop.orders import SwitchingOrder, SwitchingSchedule, check_order
from openderms.services.control_loop.plans import (
    deadband_holds,
    request_of,
    request_of_renewal,
    same_setpoint,
    within_deadband,
)
from openderms.services.control_loop.ports import (
    ControlDelivery,
    DefaultControl,
    DeliveryError,
    ResponseSource,
)
from openderms.services.control_loop.queue import ControlQueue, RetryPolicy
from openderms.services.control_loop.report import StepReport
from openderms.services.control_loop.revert import EpisodeTracker
from openderms.services.control_loop.state import GridState

__all__ = ["ControlLoop", "LoopConfig", "StepReport", "request_of_renewal"]


@dataclass(frozen=True, slots=True)
class LoopConfig:
    """Tuning of the loop. ``silence_factor``: telemetry periods of silence before a DER is
        uncontrollable; ``control_duration_s``: each control's expiry after its start (a DER
        that hears nothing more returns to its default by itself); ``renew_before_s``: renew a
        control still needed this long before it expires; ``hold_s``: how long an episode must
        stay clear (by ``hysteresis``) before controls end; ``comply_within_s``: a received
        control must show in telemetry by then (within ``comply_tolerance_kw``, kW or kvar); a DER
    found ignoring its controls is dispatchable again after ``readmit_after_s``."""

    substation_id: str = "sub1"
    limits: NetLoadLimits | None = None
    options: DispatchOptions = field(default_factory=DispatchOptions)
    use_opf: bool = True
    silence_factor: float = 3.0
    control_duration_s: float = 900.0
    renew_before_s: float = 120.0
    hold_s: float = 300.0
    hysteresis: Margins = CLEARING_HYSTERESIS
    comply_within_s: float = 90.0
    comply_tolerance_kw: float = 0.5
    setpoint_tolerance_kw: float = 0.2
    readmit_after_s: float = 3600.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    order_lead_s: float = 120.0  # a planned switching order is applied this early
    deadband_kw: float = 1.0  # a re-dispatch moving a set point less than this (kW / kvar)
    deadband_pct: float = 10.0  # ... or this % of the DER's rating keeps the open control
    default_policy: DefaultPolicy = DefaultPolicy.FALLBACK_CAP  # per program: failsafe module
    default_policies: Mapping[str, DefaultPolicy] = field(default_factory=dict)


class ControlLoop:
    """Constraint management for one substation (see the module docstring)."""

    def __init__(
        self,
        state: GridState,
        delivery: ControlDelivery,
        responses: ResponseSource,
        config: LoopConfig | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self.state = state
        self.config = config or LoopConfig()
        self.delivery = delivery
        self.responses = responses
        self.queue = ControlQueue(delivery, self.config.retry)
        self.audit = audit or AuditLog()
        self.episodes = EpisodeTracker(self.config.hold_s)
        self._pending_defaults: dict[str, DefaultControl] = {}
        self._changed = False
        self.outside_control: set[str] = set()  # keys no dispatchable DER can relieve
        self.orders = SwitchingSchedule()
        self.started_at: datetime | None = None  # the first step: silence counts from it

    # -- ingest ---------------------------------------------------------------------------
    def ingest_telemetry(self, der_id: str, payload: Mapping[str, Any]) -> None:
        view = self.state.ders.get(der_id)
        if view is not None:
            view.ingest(payload)

    def ingest_measurements(self, payload: Mapping[str, Any]) -> None:
        self.state.ingest_measurements(payload)

    def ingest_switch_states(self, payload: Mapping[str, Any], now: datetime) -> None:
        """``{"states": {switch_id: "open" | "closed" | bool}}`` from SCADA."""
        raw = payload.get("states", payload)
        states = {
            k: v if isinstance(v, bool) else str(v).lower() == "closed" for k, v in raw.items()
        }
        self._switch(states, now, "SCADA")

    def _switch(self, states: Mapping[str, bool], now: datetime, source: str) -> None:
        if self.state.apply_switch_states(states):
            self._changed = True
            self.outside_control.clear()
            self.audit.write(now, "switching", f"switch states now {states} ({source})")

    def ingest_switching_order(
        self,
        order_id: str,
        switch_id: str,
        closed: bool,
        start: datetime,
        end: datetime | None = None,
        *,
        now: datetime,
    ) -> SwitchingOrder:
        """Schedule a planned switching order (``orders`` module): applied from ``start``
        less ``config.order_lead_s`` at the next step, reverted at ``end``; the same
        ``order_id`` replaces it. ``ValidationError`` (naming the order, field and value;
        an unknown switch named) leaves the schedule as it was."""
        switch_ids = {s.id for s in self.state.net.switches}
        key = f"order:{order_id}"
        try:
            order = check_order(order_id, switch_id, closed, start, end, switch_ids=switch_ids)
        except ValidationError as e:
            self.audit.write(now, "order_rejected", str(e), constraint=key)
            raise
        what = "order_replaced" if self.orders.put(order) is not None else "order_received"
        self.audit.write(now, what, order.describe(), constraint=key)
        return order

    def cancel_switching_order(self, order_id: str, now: datetime) -> bool:
        """Cancel an order (a switch it set returns at the next step); False if unknown."""
        old = self.orders.cancel(order_id)
        if old is not None:
            self.audit.write(now, "order_cancelled", old.describe(), constraint=f"order:{order_id}")
        return old is not None

    def _apply_orders(self, now: datetime) -> None:
        states = {s.id: s.closed for s in self.state.net.switches}
        changes, events = self.orders.due(now, self.config.order_lead_s, states)
        for ev in events:
            self.audit.write(now, f"order_{ev.action}", ev.why, constraint=ev.key)
        if changes:
            self._switch(changes, now, "planned order")

    # -- defaults -------------------------------------------------------------------------
    def provision_defaults(self, now: datetime, caps_kw: Mapping[str, float] | None = None) -> None:
        """Set every DER's default by its program's ``failsafe.DefaultPolicy``: a fallback
        cap (``caps_kw`` or ``failsafe.safe_default_caps`` at the present state) or none;
        sent at the next steps."""
        cfg = self.config
        defaults = failsafe.default_controls(
            self.state,
            lambda v: cfg.default_policies.get(v.program_id, cfg.default_policy),
            caps_kw,
        )
        self._pending_defaults.update({d.der_id: d for d in defaults})
        capped = sum(1 for d in defaults if d.p_max_kw < d.rated_kw)
        self.audit.write(now, "defaults", f"{len(defaults)} defaults, {capped} capped")

    # -- the step -------------------------------------------------------------------------
    def step(self, now: datetime) -> StepReport:
        cfg = self.config
        self.queue.on_responses(self.responses.drain(), now)
        self._send_defaults()
        self._apply_orders(now)
        newly_silent = self._failsafe(now)
        fleet = self.state.fleet()
        self.state.estimate(fleet.p_present_kw, fleet.q_present_kvar)  # loads fit to SCADA
        present = self.state.solve(fleet.p_present_kw, fleet.q_present_kvar)
        net = self.state.net
        violations = detect_violations(present, net, cfg.limits, when=now)
        actionable = [v for v in violations if v.key not in self.outside_control]
        uncontrolled = self.state.solve(fleet.p_kw, fleet.q_kvar)
        near = detect_violations(uncontrolled, net, cfg.limits, when=now, margins=cfg.hysteresis)
        opened = self.episodes.open([v.key for v in actionable], now)
        for key in opened:
            v = next(x for x in actionable if x.key == key)
            self.audit.write(now, "violation", str(v), constraint=key)
        still = {v.key for v in (*near, *violations)} - self.outside_control
        cleared = self.episodes.update(still, now)
        for key in cleared:
            why = f"inside its limit by the hysteresis for {cfg.hold_s:.0f} s without controls"
            self.audit.write(now, "cleared", why, constraint=key)
        plan = quick = None
        queued: list[str] = []
        if actionable or (self.episodes.active and (self._changed or cleared)):
            violated = {v.key for v in actionable}
            quick, plan, queued = self._dispatch(fleet, present, now, violated, bool(opened))
            queued += self._enqueue(plan, now, violated)
        elif self.episodes.active:
            queued = self._renew(now)
        self._changed = False
        cancelled = self._revert(now) if not self.episodes.active else []
        sent = self.queue.deliver(now)
        return StepReport(
            now, violations, plan, quick, tuple(queued), tuple(cancelled), sent,
            tuple(newly_silent), tuple(cleared), tuple(actionable),
        )  # fmt: skip

    def _send_defaults(self) -> None:
        for der_id, default in list(self._pending_defaults.items()):
            try:
                self.delivery.set_default(default)
            except DeliveryError:
                continue
            del self._pending_defaults[der_id]

    def _failsafe(self, now: datetime) -> list[str]:
        cfg, state = self.config, self.state
        if self.started_at is None:
            self.started_at = now
        silent = set(failsafe.silent_ders(state, now, cfg.silence_factor, since=self.started_at))
        newly = failsafe.mark(state, silent, silent=True)
        back = failsafe.mark(state, [d for d in state.ders if d not in silent], silent=False)
        for d in newly:
            self.queue.fail_unreachable(d, now)
            why = failsafe.silent_why(state.ders[d], cfg.silence_factor)
            self.audit.write(now, "failsafe", why, controls=(d,))
        for d in back:
            self.audit.write(now, "contact_restored", "telemetry again", controls=(d,))
        opened = self.queue.open_controls()
        for v, r in failsafe.not_following(
            state, opened, now, cfg.comply_within_s, cfg.comply_tolerance_kw
        ):
            v.ignores_controls = True
            v.ignoring_since = now
            self.queue.fail_not_followed(v.der_id, now)
            why = (
                f"received {r.control_id} but runs at {v.p_kw:.1f} kW {v.q_kvar:.1f} kvar: "
                "not controllable"
            )
            self.audit.write(
                now, "not_followed", why, constraint=r.constraint, controls=(v.der_id,)
            )
            newly.append(v.der_id)
        for d in failsafe.readmit(state, now, cfg.readmit_after_s):
            back.append(d)
            self.audit.write(now, "readmitted", "dispatchable again", controls=(d,))
        if newly or back:
            self._changed = True
        return newly

    def _dispatch(
        self, fleet: Fleet, present: PowerFlowResult, now: datetime, violated: set[str], new: bool
    ) -> tuple[ControlPlan, ControlPlan, list[str]]:
        """Both tiers from the present state; returns (heuristic, chosen, ids sent early).
        On a ``new`` violation the heuristic's controls are queued and sent at once, before
        the OPF runs (the OPF's plan then supersedes those it changes). The OPF's plan is
        chosen when its AC checks end clean (of what DER can act on); else the heuristic's if
        an AC check of it is clean; else the OPF's best effort."""
        cfg, st = self.config, self.state
        net, lg = st.net, st.linear
        quick = dispatch_heuristic(
            net, fleet, present, lg, cfg.limits, when=now, options=cfg.options
        )
        chosen, early = quick, []
        if new and cfg.use_opf and quick.controls:
            early = self._enqueue(quick, now, violated, end_others=False)
            self.queue.deliver(now)
            why = f"heuristic: {len(early)} controls sent before the OPF refines them"
            self.audit.write(now, "heuristic_sent", why, controls=tuple(early))
        if cfg.use_opf:
            opf = dispatch_opf(
                net, fleet, lg, st.solve, cfg.limits, when=now, options=cfg.options, base=present
            )
            outside = {v.key for v in opf.outside_control}
            for key in sorted(outside - self.outside_control):
                why = "no dispatchable DER behind it: left to the operator"
                self.audit.write(now, "outside_control", why, constraint=key)
            self.outside_control = outside
            self.episodes.drop(outside)
            if opf.ac_violations is not None and not opf.actionable_ac_violations:
                chosen = opf
            else:
                check = self.state.solve(quick.der_p_kw, quick.der_q_kvar)
                left = detect_violations(check, net, cfg.limits, when=now)
                chosen = quick if not left else opf
        why = (
            f"{chosen.method}: {len(chosen.violations_before)} violations, "
            f"{len(chosen.controls)} controls, curtailed {chosen.curtailed_kw:.1f} kW, "
            f"vars {chosen.q_used_kvar:.1f} kvar, {chosen.solve_s * 1e3:.0f} ms"
        )
        keys = ",".join(sorted({v.key for v in chosen.violations_before}))
        self.audit.write(now, "dispatch", why, constraint=keys)
        return quick, chosen, early

    def _enqueue(
        self, plan: ControlPlan, now: datetime, violated: set[str], *, end_others: bool = True
    ) -> list[str]:
        cfg, st = self.config, self.state
        net = st.net
        index = {d.id: i for i, d in enumerate(net.ders)}
        queued, wanted, send, kept = [], set(), [], []
        for c in plan.controls:
            wanted.add(c.der_id)
            view = st.ders[c.der_id]
            if not view.controllable:
                continue
            old = self.queue.open_control(c.der_id)
            if old is not None and same_setpoint(old.request, c, cfg.setpoint_tolerance_kw):
                continue
            if old is not None and within_deadband(
                old.request,
                c,
                tolerance=cfg.setpoint_tolerance_kw,
                deadband_kw=max(cfg.deadband_kw, cfg.deadband_pct / 100.0 * view.rated_kw),
                violated=c.constraint in violated,
            ):
                kept.append((c, old.request))
                continue
            send.append(c)
        if kept and not deadband_holds(
            st, plan, kept, limits=cfg.limits, outside=self.outside_control, now=now
        ):
            send += [c for c, _ in kept]  # the open set points would leave a violation
        for c in send:
            view = st.ders[c.der_id]
            req = request_of(
                c, self.queue.new_id(), index, net, now=now, duration_s=cfg.control_duration_s
            )
            self.queue.submit(req, view.aggregator_id, now)
            view.control = req
            queued.append(req.control_id)
            why, key = req.reason, req.constraint
            self.audit.write(now, "control_queued", why, constraint=key, controls=(req.control_id,))
        for entry in self.queue.open_controls() if end_others else ():
            if entry.der_id not in wanted:
                self.queue.cancel(entry.der_id, now, "no longer needed by the new plan")
                st.ders[entry.der_id].control = None
                self.audit.write(
                    now, "control_ended", "not in the new plan", controls=(entry.control_id,)
                )
        return queued

    def _renew(self, now: datetime) -> list[str]:
        """Controls still needed that expire soon are sent again with a new expiry."""
        cfg = self.config
        out = []
        soon = now + timedelta(seconds=cfg.renew_before_s)
        for entry in self.queue.open_controls():
            r = entry.request
            if r.expiry > soon or not self.state.ders[r.der_id].controllable:
                continue
            new = request_of_renewal(r, self.queue.new_id(), now, cfg.control_duration_s)
            self.queue.submit(new, entry.aggregator_id, now)
            out.append(new.control_id)
            self.audit.write(
                now,
                "control_renewed",
                r.reason,
                constraint=r.constraint,
                controls=(new.control_id,),
            )
        return out

    def _revert(self, now: datetime) -> list[str]:
        """Every episode has cleared: controls end, DER return to their defaults."""
        out = []
        for entry in self.queue.open_controls():
            self.queue.cancel(entry.der_id, now, "condition cleared: revert to default")
            self.state.ders[entry.der_id].control = None
            out.append(entry.control_id)
        if out:
            self.audit.write(now, "revert", "every constraint cleared", controls=tuple(out))
        return out
