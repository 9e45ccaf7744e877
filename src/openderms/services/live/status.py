"""What a live run looks like now: one ``LiveStatus`` per screen refresh (true violations from
the plant's AC power flow; controls, delivery rates and DER the loop cannot control from the
control loop; the last events of its audit log)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from openderms.services.control_loop import AuditEntry, ControlStatus

if TYPE_CHECKING:
    from openderms.services.live.stack import LiveStack

#: audit actions shown as events
EVENTS = frozenset(
    {"violation", "dispatch", "switching", "revert", "cleared", "failsafe", "not_followed",
     "outside_control", "contact_restored"}
)  # fmt: skip
DELIVERED = frozenset({ControlStatus.RECEIVED, ControlStatus.STARTED, ControlStatus.COMPLETED})


@dataclass(frozen=True, slots=True)
class LiveStatus:
    """Powers in kW (``net_load_kw`` positive = import from the grid)."""

    elapsed_s: float
    violations: int  # true (plant AC power flow)
    actionable: int  # of them, those DER can act on
    v_max_pu: float
    loading_max_pct: float
    net_load_kw: float
    der_p_kw: float
    queued: int  # controls ever queued
    sent: int  # ... handed to the 2030.5 server
    delivered: int  # ... reported received by their DER
    open_controls: int
    first_try_rate: float
    eventual_rate: float
    telemetry: int  # telemetry messages into the loop
    silent: int
    uncontrollable: int
    open_switches: tuple[str, ...]


def status_of(stack: LiveStack) -> LiveStatus:
    s = stack.latest or stack.solve_now()
    q = stack.loop.queue
    counts = Counter(e.status for e in q.controls.values())
    sent = sum(1 for e in q.controls.values() if e.sent_at is not None)
    delivered = sum(1 for e in q.controls.values() if e.received_at is not None)
    rates = q.rates().get("all")
    views = stack.loop.state.ders.values()
    normally_open = {sw.id for sw in stack.twin.network.switches if not sw.closed}
    now_open = {k for k, v in stack.plant.switches.items() if not v}
    return LiveStatus(
        elapsed_s=(datetime.now(UTC) - stack.started_at).total_seconds(),
        violations=len(s.violations),
        actionable=len(stack.actionable(s)),
        v_max_pu=s.v_max_pu,
        loading_max_pct=s.loading_max_pct,
        net_load_kw=s.substation_p_kw,
        der_p_kw=s.der_p_kw,
        queued=len(q.controls),
        sent=sent,
        delivered=delivered,
        open_controls=sum(counts[c] for c in (ControlStatus.QUEUED, ControlStatus.SENT))
        + sum(counts[c] for c in DELIVERED if c is not ControlStatus.COMPLETED),
        first_try_rate=rates.first_try_rate if rates else 1.0,
        eventual_rate=rates.eventual_rate if rates else 1.0,
        telemetry=stack.telemetry.received,
        silent=sum(v.silent for v in views),
        uncontrollable=sum(not v.controllable for v in views),
        open_switches=tuple(sorted(now_open ^ normally_open)),
    )


def line(st: LiveStatus) -> str:
    """One status line (the screen's row)."""
    sw = ",".join(st.open_switches) or "normal"
    return (
        f"t={st.elapsed_s:4.0f}s viol {st.violations} ({st.actionable} DER can act on) "
        f"Vmax {st.v_max_pu:.3f} load {st.loading_max_pct:3.0f}% net {st.net_load_kw:,.0f} kW"
        f" | controls q/s/d {st.queued}/{st.sent}/{st.delivered} "
        f"delivery {st.first_try_rate:.0%}/{st.eventual_rate:.0%} | telemetry {st.telemetry:,}"
        f" silent {st.silent} uncontrollable {st.uncontrollable} | switched: {sw}"
    )


def event_text(e: AuditEntry) -> str:
    what = f"{e.action}: {e.why}"
    if e.constraint:
        what += f" [{e.constraint[:60]}]"
    return what[:160]


def new_events(stack: LiveStack, seen: int) -> tuple[list[AuditEntry], int]:
    """Events of interest written since ``seen`` entries, and the new count."""
    fresh = stack.events[seen:]
    return [e for e in fresh if e.action in EVENTS], len(stack.events)
