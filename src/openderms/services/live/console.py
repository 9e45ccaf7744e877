"""The live run on the terminal: start the stack, show it every few seconds (one status
line, then the events since the last one), then either run the scripted scenario through
the real CLI and print its summary, or stay up until Ctrl-C (``--stay``)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shlex
import signal
import sys
import time
from collections import Counter

from rich.console import Console
from rich.table import Table

from openderms.services.live.client import LiveRunError
from openderms.services.live.scenario import (
    ScenarioReport,
    ScenarioTimings,
    SwitchCommand,
    run_scenario,
    transfer_switches,
)
from openderms.services.live.stack import LiveOptions, LiveStack
from openderms.services.live.status import event_text, line, new_events, status_of
from openderms.sim.twin import Twin

_TIMING = re.compile(r", \d+ ms")


class Screen:
    """Prints a status line every ``every_s`` and each new event (a dispatch only when its
    outcome changed)."""

    def __init__(self, console: Console, stack: LiveStack, every_s: float = 6.0) -> None:
        self.console, self.stack, self.every_s = console, stack, every_s
        self._seen = 0
        self._last_dispatch = ""
        self._last_line = 0.0

    async def tick(self) -> None:
        events, self._seen = new_events(self.stack, self._seen)
        for e in events:
            text = event_text(e)
            if e.action == "dispatch":
                key = _TIMING.sub("", text)
                if key == self._last_dispatch:
                    continue
                self._last_dispatch = key
            self.console.print(f"  [dim]{e.at:%H:%M:%S}[/] {text}", highlight=False)
        now = asyncio.get_running_loop().time()
        if now - self._last_line >= self.every_s:
            self._last_line = now
            self.console.print(line(status_of(self.stack)), highlight=False)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)


def cli_switch(console: Console, options: LiveOptions) -> SwitchCommand:
    """Switching through the real command line, as an operator would type it."""

    async def run(switch_id: str, closed: bool) -> None:
        args = ["grid", "switch", switch_id, "close" if closed else "open", "--live"]
        args += ["--workspace", str(options.workspace)]
        console.print(f"[bold]$ openderms {shlex.join(args)}[/]")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "openderms", *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await proc.communicate()
        for text in out.decode(errors="replace").splitlines():
            console.print(f"  {text}", highlight=False)
        if proc.returncode != 0:
            raise LiveRunError(f"openderms grid switch exited {proc.returncode}")

    return run


def print_commands(console: Console, stack: LiveStack) -> None:
    section, tie = transfer_switches(stack.twin)
    ws = shlex.quote(str(stack.options.workspace))
    console.print(
        f"2030.5 server (CSIP TLS): {stack.sep_url}   REST API: {stack.api_url}/docs\n"
        f"operator token and URLs: {stack.options.workspace / 'live.json'} (mode 0600)\n"
        "switch from another terminal:\n"
        f"  openderms grid switch {tie} close --live --workspace {ws}\n"
        f"  openderms grid switch {section} open --live --workspace {ws}\n"
        f"  openderms grid switch {section} close --live --workspace {ws}\n"
        f"  openderms grid switch {tie} open --live --workspace {ws}",
        highlight=False,
    )


async def run_live(
    console: Console,
    twin: Twin,
    options: LiveOptions,
    *,
    stay: bool,
    timings: ScenarioTimings | None = None,
) -> ScenarioReport | None:
    """The live part of ``openderms run`` (module docstring)."""
    n = len(twin.network.ders)
    console.rule(f"live: '{twin.preset}' twin, {n:,} DER as 2030.5 clients")
    with console.status("starting the 2030.5 server, REST API, fleet, plant and control loop"):
        cm = LiveStack.start(twin, options)
        stack = await cm.__aenter__()
    try:
        m = stack.mapping
        console.print(
            f"registry: {len(m.end_device_of):,} DER -> EndDevices; "
            f"{len(m.program_of_node):,} topology nodes -> FSAs/DERPrograms; "
            f"{options.aggregators} aggregators, {options.direct} DER with their own certificate"
        )
        print_commands(console, stack)
        screen = Screen(console, stack)
        if stay:
            console.print("[bold]live until Ctrl-C[/]")
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGTERM, stop.set)  # `kill`: stop cleanly too
            try:
                await screen.run(stop)
            finally:
                loop.remove_signal_handler(signal.SIGTERM)
            return None
        cpu0, t0 = time.process_time(), time.perf_counter()
        report = await run_scenario(stack, cli_switch(console, options), screen.tick, timings)
        print_summary(console, stack, report)
        wall = time.perf_counter() - t0
        cpu = (time.process_time() - cpu0) / wall
        console.print(
            f"live scenario: {wall:.0f} s; this process used {cpu:.0%} of one core "
            f"({n:,} DER polling every {options.poll_s} s, posting every {options.post_s} s)",
            highlight=False,
        )
        return report
    finally:
        with console.status("stopping"):
            await cm.__aexit__(None, None, None)


def _after(
    n: int,
    actionable: int,
    kinds: tuple[tuple[str, int], ...],
    *,
    v_max_pu: float,
    v_min_pu: float,
    loading_pct: float,
) -> str:
    """Violations right after an event: how many (DER can act on), their kinds, the worst."""
    text = f"{n} ({actionable})"
    if not kinds:
        return text
    worst = {"overvoltage": f"Vmax {v_max_pu:.3f}", "undervoltage": f"Vmin {v_min_pu:.3f}",
             "thermal": f"load {loading_pct:.0f} %"}  # fmt: skip
    parts = [f"{k}" if len(kinds) == 1 else f"{c} {k}" for k, c in kinds]
    figures = [worst[k] for k, _ in kinds if k in worst]
    return f"{text} {', '.join(parts)}" + (f": {', '.join(figures)}" if figures else "")


def print_summary(console: Console, stack: LiveStack, report: ScenarioReport) -> None:
    """The scenario's table (fits 100 columns) and the figures of the run."""
    section, tie = transfer_switches(stack.twin)
    f1, f2 = stack.twin.feeders[0].id, stack.twin.feeders[1].id
    table = Table(
        title="live scenario: true AC power flow (plant) and the control loop",
        caption=f"violations: all (those DER can act on); transfer: {f2} beyond {section} "
        f"fed by {f1} across {tie}",
    )
    table.add_column("phase")
    table.add_column("event")
    table.add_column("after event", min_width=31)
    table.add_column("at end")
    table.add_column("cleared in", justify="right")
    b = report.before
    if b is not None:
        kinds = tuple(sorted(Counter(v.kind for v in b.violations).items()))
        after = _after(
            len(b.violations), len(stack.actionable(b)), kinds,
            v_max_pu=b.v_max_pu, v_min_pu=b.v_min_pu, loading_pct=b.loading_max_pct,
        )  # fmt: skip
        table.add_row("before", "noon, uncontrolled", after)
    for p in report.phases:
        after = _after(
            p.violations_at_start, p.actionable_at_start, p.kinds_at_start,
            v_max_pu=p.v_max_pu_at_start, v_min_pu=p.v_min_pu_at_start,
            loading_pct=p.loading_max_pct_at_start,
        )  # fmt: skip
        table.add_row(
            p.name,
            p.event,
            after,
            f"{p.violations_at_end} ({p.actionable_at_end})",
            "not in phase" if p.mitigated_after_s is None else f"{p.mitigated_after_s:.0f} s",
        )
    console.print(table)
    st = status_of(stack)
    f = report.final
    if f is not None:
        console.print(
            f"final AC power flow: {len(f.violations)} violations, "
            f"{len(stack.actionable(f))} DER can act on; Vmax {f.v_max_pu:.4f} pu, "
            f"max loading {f.loading_max_pct:.1f} %, net load {f.substation_p_kw:,.0f} kW",
            highlight=False,
        )
    console.print(
        f"controls: {st.queued} queued, {st.sent} sent over 2030.5, {st.delivered} received; "
        f"delivery {st.first_try_rate:.1%} first try, {st.eventual_rate:.1%} eventual; "
        f"reverted to defaults: {'yes' if report.reverted else 'no'}; "
        f"DER silent {st.silent}, uncontrollable {st.uncontrollable}; "
        f"telemetry messages {st.telemetry:,}",
        highlight=False,
    )
