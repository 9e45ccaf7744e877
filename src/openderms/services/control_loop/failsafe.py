"""Failsafes: DER defaults that are safe by themselves, and DER that fell silent.

What a DER's default (its 2030.5 DefaultDERControl) means is decided per program
(``DefaultPolicy``), because devices differ in *when* they apply it:

- ``FALLBACK_CAP``: the default is the safe export cap below, the DER's fail-safe behaviour.
  Only for programs whose devices apply their default when out of contact (a CSIP-AUS style
  fallback, as the simulated fleet does): in contact and with no control they run free, and
  the loop plans a silent DER at its cap.
- ``NO_CAP``: the default is the DER's rating (no cap). For CSIP (IEEE 2030.5) programs whose
  devices apply the DefaultDERControl whenever no event is active: a noon-safe cap there
  would curtail every idle DER all day. Fail-safe comes from the controls' own expiry
  instead: a DER that loses contact keeps its last control until it expires, then runs
  uncontrolled; the loop plans a silent DER at its available power, and the safe caps of
  the ``FALLBACK_CAP`` DER are computed with these at full output.

``LoopConfig.default_policy`` applies to every program not named in
``LoopConfig.default_policies`` (by ``DerView.program_id``; the aggregator's id unless
``GridState`` was given ``program_of``).

``safe_default_caps(state)``: the export cap (kW, generator convention) each DER falls back to
when it loses contact (its 2030.5 DefaultDERControl). It comes from the worst case the state
holds (every DER at its available power, e.g. clear-sky noon): an active-power-only,
AC-checked OPF (``control.dispatch_opf``) finds how far each topology node (the DER behind one
service transformer, ``grid.topology_nodes``) must be capped so the network is inside its
limits *even if every DER sat at its default at once*; each DER of a node gets the node's
share of its worst-case output. No vars: a DER out of contact keeps no volt-var set point.

``silent_ders``: DER not heard from for longer than ``factor`` telemetry periods (a DER never
heard from: counted from the loop's start); the loop marks them uncontrollable at their
fallback output and re-dispatches the others.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime, timedelta

import numpy as np

from openderms.control import DispatchOptions, dispatch_opf
from openderms.control.types import FloatArray
from openderms.grid.powerflow import PowerFlowResult
from openderms.grid.topology_nodes import group_ders
from openderms.services.control_loop.ports import ControlRequest, DefaultControl
from openderms.services.control_loop.queue import QueuedControl
from openderms.services.control_loop.state import DerView, GridState


class DefaultPolicy(enum.Enum):
    """What a program's DER default is (see the module docstring)."""

    FALLBACK_CAP = "fallback_cap"
    NO_CAP = "no_cap"


def default_controls(
    state: GridState,
    policy_of: Callable[[DerView], DefaultPolicy],
    caps_kw: Mapping[str, float] | None = None,
) -> list[DefaultControl]:
    """Every DER's default by its program's policy (``caps_kw`` or the safe caps for the
    ``FALLBACK_CAP`` ones); sets each view's ``fallback_p_max_kw`` to match."""
    free = {d for d, v in state.ders.items() if policy_of(v) is DefaultPolicy.NO_CAP}
    if caps_kw is not None:
        caps = dict(caps_kw)
    else:
        caps = safe_default_caps(state, free=free) if len(free) < len(state.ders) else {}
    out = []
    for der_id, view in state.ders.items():
        if der_id in free:
            view.fallback_p_max_kw = None
            why = "no cap: this program's devices apply their default whenever no event is"
            out.append(DefaultControl(der_id, view.rated_kw, view.rated_kw, why + " active"))
        elif der_id in caps:
            view.fallback_p_max_kw = caps[der_id]
            why = "safe with every DER at its default (AC-checked OPF, per service transformer)"
            out.append(DefaultControl(der_id, caps[der_id], view.rated_kw, why))
    return out


def safe_default_caps(
    state: GridState, *, min_share: float = 0.0, free: Collection[str] = ()
) -> dict[str, float]:
    """Per DER id: its default export cap in kW (see the module docstring); DER in ``free``
    (no cap by their policy) are taken at their available power and get no cap here."""
    fleet = state.fleet()
    fixed = np.fromiter((i in free for i in fleet.ids), bool, len(fleet))
    fleet = dataclasses.replace(
        fleet,
        controllable=~fleet.is_storage & ~fixed,  # storage keeps its schedule at its default
        p_present_kw=fleet.p_kw.copy(),
        q_present_kvar=np.zeros(len(fleet)),
    )

    def ac(p_kw: FloatArray, q_kvar: FloatArray) -> PowerFlowResult:
        return state.solve(p_kw, q_kvar)

    net = state.net
    plan = dispatch_opf(
        net, fleet, state.linear, ac, options=DispatchOptions(use_reactive=False, aggregate="bus")
    )
    ref = fleet.p_kw
    share = np.ones(len(fleet))
    gen = (ref > 1e-6) & ~fleet.is_storage
    share[gen] = np.clip(plan.der_p_kw[gen] / ref[gen], min_share, 1.0)
    index = {d: i for i, d in enumerate(fleet.ids)}
    caps: dict[str, float] = {}
    for node in group_ders(net, state.linear.topology):
        members = [index[d] for d in node.der_ids if d not in free]
        if not members:
            continue
        node_share = float(min(share[i] for i in members))
        for i in members:
            rated = float(net.ders[i].p_max_kw)
            at_worst = float(ref[i]) if gen[i] else rated
            caps[fleet.ids[i]] = rated if fleet.is_storage[i] else node_share * at_worst
    return caps


def silent_ders(
    state: GridState, now: datetime, factor: float, since: datetime | None = None
) -> list[str]:
    """DER not heard from for longer than ``factor`` times their telemetry period; one never
    heard from counts from ``since`` (the loop's start; None: never silent)."""
    return [v.der_id for v in state.ders.values() if v.is_silent(now, factor, since)]


def silent_why(v: DerView, factor: float) -> str:
    """The audit text of a DER found silent."""
    heard = "never heard from" if v.last_seen is None else "silent"
    return (
        f"{heard} for more than {factor:g} x {v.telemetry_period_s:g} s: "
        f"uncontrollable at its fallback ({v.fallback_p_kw:.1f} kW)"
    )


def readmit(state: GridState, now: datetime, after_s: float) -> list[str]:
    """DER flagged as ignoring controls ``after_s`` ago or more: dispatchable again."""
    out = []
    for v in state.ders.values():
        if v.ignoring_since is not None and now - v.ignoring_since >= timedelta(seconds=after_s):
            v.ignores_controls, v.ignoring_since = False, None
            out.append(v.der_id)
    return out


def mark(state: GridState, der_ids: Iterable[str], *, silent: bool) -> list[str]:
    """Set the silent flag; returns the DER whose flag changed."""
    changed = []
    for d in der_ids:
        v = state.ders[d]
        if v.silent != silent:
            v.silent = silent
            changed.append(d)
    return changed


def not_following(
    state: GridState,
    opened: Iterable[QueuedControl],
    now: datetime,
    comply_within_s: float,
    tolerance_kw: float,
) -> list[tuple[DerView, ControlRequest]]:
    """DER whose telemetry, ``comply_within_s`` after they received a control and newer than
    that, is off its set point by more than ``tolerance_kw`` (kW or kvar)."""
    out = []
    for entry in opened:
        v = state.ders[entry.der_id]
        r = entry.request
        if entry.received_at is None or v.last_seen is None or v.last_seen <= entry.received_at:
            continue
        if now - entry.received_at < timedelta(seconds=comply_within_s):
            continue
        tol = tolerance_kw
        off = (
            (r.p_max_kw is not None and v.p_kw > r.p_max_kw + tol)
            or (r.p_kw is not None and abs(v.p_kw - r.p_kw) > tol)
            or (r.q_kvar is not None and abs(v.q_kvar - _q_possible(r.q_kvar, v)) > tol)
        )
        if off:
            out.append((v, r))
    return out


def _q_possible(q_kvar: float, v: DerView) -> float:
    """The vars the DER can give at its present output (inside its ``s_kva`` circle)."""
    room = math.sqrt(max(v.s_kva**2 - v.p_kw**2, 0.0))
    return min(max(q_kvar, -room), room)
