"""The scripted live scenario ``make run`` ends with (a few minutes, then it stops):

1. ``noon``: the fleet connects at the twin's noon; the control loop sees the violations and
   sends controls over 2030.5 until the true AC power flow is clear of what DER can act on;
2. ``transfer``: the operator closes the tie between the first two feeders and opens the
   second feeder's first sectionaliser (``switch``: the real CLI in ``make run``, the REST API
   in the tests): the second feeder's outer part is carried by the first feeder across the
   tie (``transfer_switches``); the loop re-derives the topology and re-dispatches;
3. ``restore``: the sectionaliser closes and the tie opens again; the loop re-dispatches;
4. ``cloud``: a cloud lowers every PV system's output; the constraints clear, stay clear for
   the hold time, and the loop ends its controls (DER back to their defaults); the phase
   waits for that too.

Each phase waits, at most its timeout, until no true violation DER can act on is left for
``stable_checks`` checks in a row; ``ScenarioReport`` keeps what each phase saw.

Why the transfer shows overvoltage, not an overload: on ``small`` the whole substation draws
under 2 MW while each 336 kcmil trunk carries about 11 MVA (530 A at 12 kV), so no switching
can overload a trunk or the bank, and a switching does not change what flows through a
service transformer. What a transfer does change is voltage: at noon the moved section's PV
then sits at the end of a path twice as long, and its low-voltage buses rise above 1.05 pu
(up to about 1.058 pu) even under the controls that cleared the normal topology's noon
overvoltages (about 30 such buses on ``small`` in ``make run``; opening the first feeder's
head breaker instead, so the second carries all of it, left 0 to 4). DER clear them with
reactive power and a little curtailment.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from openderms.services.live.plant import PlantState
from openderms.services.live.stack import LiveStack
from openderms.sim.twin import Twin

SwitchCommand = Callable[[str, bool], Awaitable[None]]
Tick = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ScenarioTimings:
    """Seconds: each phase's limit, the check period, checks in a row that count as clear."""

    noon_s: float = 120.0
    switching_s: float = 90.0
    revert_s: float = 120.0
    check_s: float = 2.0
    stable_checks: int = 3
    cloud_scale: float = 0.3


@dataclass(frozen=True, slots=True)
class PhaseReport:
    """One phase: true violations right after its event and at its end (all / DER can act
    on), the most seen meanwhile, and how long until none DER can act on was left."""

    name: str
    event: str
    violations_at_start: int
    actionable_at_start: int
    kinds_at_start: tuple[tuple[str, int], ...]  # (violation kind, how many), right after
    v_max_pu_at_start: float
    v_min_pu_at_start: float
    loading_max_pct_at_start: float
    peak_actionable: int
    violations_at_end: int
    actionable_at_end: int
    mitigated_after_s: float | None
    duration_s: float


@dataclass
class ScenarioReport:
    before: PlantState | None = None
    phases: list[PhaseReport] = field(default_factory=list)
    reverted: bool = False
    final: PlantState | None = None


def transfer_switches(twin: Twin) -> tuple[str, str]:
    """(the switch that opens, the tie that closes) of the transfer: the second feeder's first
    sectionaliser (its head breaker when it has none) and the tie it shares with the first
    feeder, so the second feeder's outer part is carried by the first (module docstring)."""
    f1, f2 = twin.feeders[0], twin.feeders[1]
    tie = next(t for t in f1.ties if t in f2.ties)
    return (f2.sectionalisers[0] if f2.sectionalisers else f2.head_breaker), tie


def _kinds(state: PlantState) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(Counter(v.kind for v in state.violations).items()))


async def _phase(
    stack: LiveStack,
    name: str,
    event: str,
    *,
    timeout_s: float,
    timings: ScenarioTimings,
    tick: Tick,
    done: Callable[[], bool] | None = None,
) -> PhaseReport:
    t0 = time.monotonic()
    await asyncio.sleep(timings.check_s)  # the plant and the loop see the event
    first = stack.solve_now()
    start_actionable = len(stack.actionable(first))
    peak, clear_for, mitigated = start_actionable, 0, None
    while time.monotonic() - t0 < timeout_s:
        await asyncio.sleep(timings.check_s)
        await tick()
        state = stack.solve_now()
        n = len(stack.actionable(state))
        peak = max(peak, n)
        clear_for = clear_for + 1 if n == 0 else 0
        if clear_for >= timings.stable_checks and mitigated is None:
            mitigated = time.monotonic() - t0
        if mitigated is not None and (done is None or done()):
            break
    end = stack.solve_now()
    return PhaseReport(
        name=name,
        event=event,
        violations_at_start=len(first.violations),
        actionable_at_start=start_actionable,
        kinds_at_start=_kinds(first),
        v_max_pu_at_start=first.v_max_pu,
        v_min_pu_at_start=first.v_min_pu,
        loading_max_pct_at_start=first.loading_max_pct,
        peak_actionable=peak,
        violations_at_end=len(end.violations),
        actionable_at_end=len(stack.actionable(end)),
        mitigated_after_s=mitigated,
        duration_s=time.monotonic() - t0,
    )


async def run_scenario(
    stack: LiveStack,
    switch: SwitchCommand,
    tick: Tick,
    timings: ScenarioTimings | None = None,
) -> ScenarioReport:
    """Run the four phases (module docstring) and report them."""
    t = timings or ScenarioTimings()
    report = ScenarioReport(before=stack.first or stack.solve_now())
    section, tie = transfer_switches(stack.twin)
    noon = "fleet online at noon"
    report.phases.append(
        await _phase(stack, "noon", noon, timeout_s=t.noon_s, timings=t, tick=tick)
    )
    await switch(tie, True)
    await switch(section, False)
    event = f"{tie} close, {section} open"
    report.phases.append(
        await _phase(stack, "transfer", event, timeout_s=t.switching_s, timings=t, tick=tick)
    )
    await switch(section, True)
    await switch(tie, False)
    event = f"{section} close, {tie} open"
    report.phases.append(
        await _phase(stack, "restore", event, timeout_s=t.switching_s, timings=t, tick=tick)
    )
    stack.sun.scale = t.cloud_scale
    event = f"a cloud: PV at {t.cloud_scale:.0%} of noon"

    def reverted() -> bool:
        """No control left in force: every DER is back at its default (the loop ended
        them by a revert, or by a plan that needs none)."""
        return not stack.loop.queue.open_controls()

    report.phases.append(
        await _phase(
            stack, "cloud", event, timeout_s=t.revert_s, timings=t, tick=tick, done=reverted
        )
    )
    report.reverted = reverted()
    report.final = stack.solve_now()
    return report
