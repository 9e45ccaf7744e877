"""The ``openderms`` command line (Typer + Rich).

Thin: each command parses its arguments, calls a service or the core, and renders the result.
Errors of the ``openderms.errors`` hierarchy are shown once, in words, with exit code 2.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from openderms.cli_registry import mount as mount_registry_commands
from openderms.errors import OpenDermsError, ValidationError
from openderms.grid.model import Network
from openderms.grid.powerflow import EngineName, PowerFlowResult
from openderms.grid.topology import Topology, derive_topology, switch
from openderms.grid.topology_nodes import group_ders
from openderms.store.network_files import NetworkFileStore

if TYPE_CHECKING:
    from openderms.sim.twin import Twin

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
grid_app = typer.Typer(no_args_is_help=True, help="Network model: import, inspect, solve, switch.")
twin_app = typer.Typer(no_args_is_help=True, help="The digital-twin substation.")
app.add_typer(grid_app, name="grid")
app.add_typer(twin_app, name="twin")
mount_registry_commands(app)  # der, token, serve

console = Console()
err_console = Console(stderr=True)

Workspace = Annotated[
    Path,
    typer.Option(envvar="OPENDERMS_WORKSPACE", help="Folder holding the current network model."),
]
DEFAULT_WORKSPACE = Path(".openderms")


class EngineChoice(StrEnum):
    auto = "auto"
    pgm = "pgm"
    opendss = "opendss"


class SwitchAction(StrEnum):
    open = "open"
    close = "close"


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s")


def _current_network(workspace: Path) -> Network:
    store = NetworkFileStore(workspace)
    if store.exists():
        return store.load()
    from openderms.sim.twin import build_twin

    console.print(f"[dim]no model in {workspace}; using the built-in 'camden' twin[/]")
    twin = build_twin("camden")
    store.save(twin.network)
    return twin.network


@app.command()
def run(  # noqa: PLR0917 (Typer options)
    preset: Annotated[str, typer.Option(help="Twin preset of the report.")] = "camden",
    seed: Annotated[int, typer.Option(help="Seed of the twin generator.")] = 0,
    out: Annotated[Path, typer.Option(help="Folder for pictures and results.")] = Path("out"),
    live: Annotated[
        bool, typer.Option(help="After the report, run the twin live over the protocols.")
    ] = True,
    live_preset: Annotated[
        str, typer.Option(help="Twin preset of the live run (camden: 10,000 DER clients).")
    ] = "small",
    stay: Annotated[
        bool, typer.Option(help="Stay live until Ctrl-C instead of the scripted scenario.")
    ] = False,
    sep_port: Annotated[int, typer.Option(help="2030.5 server port (0: any free).")] = 0,
    api_port: Annotated[int, typer.Option(help="REST API port (0: any free).")] = 0,
    workspace: Workspace = DEFAULT_WORKSPACE,
) -> None:
    """The main job on the embedded default: build the twin, solve noon and the whole day,
    print a summary and write pictures; then go live (2030.5 server, REST API, simulated
    fleet, plant and control loop) and run a scripted scenario, or stay up with --stay."""
    from openderms.services.twin_day import run_twin_day

    _quiet_highs_banner()
    with console.status(f"building and solving the '{preset}' twin..."):
        report = run_twin_day(preset, seed, out)
    net = report.network
    summary = Table(title=f"Digital twin '{preset}' (seed {seed})", show_header=False)
    for key, value in report.lines():
        summary.add_row(key, value)
    console.print(summary)
    _print_worst(net, report.noon, report.topology)
    for p in report.pictures:
        console.print(f"picture: [bold]{p}[/]")
    if live:
        _run_live(report.twin, live_preset, seed, stay, sep_port, api_port, workspace)


def _run_live(  # noqa: PLR0917 (the run command's options)
    twin: Twin, preset: str, seed: int, stay: bool, sep_port: int, api_port: int, ws: Path
) -> None:
    import asyncio

    from openderms.services.live.console import run_live
    from openderms.services.live.stack import LiveOptions
    from openderms.sim.twin import build_twin

    live_twin = twin if twin.preset == preset else build_twin(preset, seed)
    options = LiveOptions(workspace=ws, sep_port=sep_port, api_port=api_port, seed=seed)
    try:
        asyncio.run(run_live(console, live_twin, options, stay=stay))
    except KeyboardInterrupt:
        console.print("live run stopped")


@grid_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="OpenDSS master file.")],
    workspace: Workspace = DEFAULT_WORKSPACE,
) -> None:
    """Import an OpenDSS feeder as the current network model."""
    from openderms.grid.opendss.importer import import_dss

    report = import_dss(file)
    path = NetworkFileStore(workspace).save(report.network)
    _print_counts(report.network)
    for name in report.unsupported:
        console.print(f"[yellow]not imported[/]: {name}")
    if report.ignored:
        console.print(f"[dim]ignored (no power-flow effect): {len(report.ignored)} elements[/]")
    console.print(f"saved to {path}")


@grid_app.command()
def show(workspace: Workspace = DEFAULT_WORKSPACE) -> None:
    """Summarise the current network model: elements, feeders, switches, DER, topology nodes."""
    net = _current_network(workspace)
    topo = derive_topology(net)
    _print_counts(net)
    feeders = Table(title="Feeders")
    for col in ("feeder", "head", "buses", "DER", "DER kW"):
        feeders.add_column(col)
    for f in net.feeders:
        buses = {i for i, fb in enumerate(topo.feeder) if fb == f.id}
        ders = [d for d in net.ders if topo.der_bus[d.id] in buses]
        total = sum(d.p_max_kw for d in ders)
        feeders.add_row(f.id, f.head, str(len(buses)), str(len(ders)), f"{total:,.0f}")
    if net.feeders:
        console.print(feeders)
    open_sw = [s.id for s in net.switches if not s.closed]
    console.print(f"open switches: {', '.join(open_sw) or 'none'}")
    dead = int((~topo.energised).sum())
    console.print(f"islands: {topo.n_islands}, de-energised buses: {dead}, loops: {topo.n_loops}")
    nodes = group_ders(net, topo)
    console.print(f"topology nodes (by service transformer): {len(nodes)}")


@grid_app.command()
def powerflow(
    workspace: Workspace = DEFAULT_WORKSPACE,
    engine: Annotated[EngineChoice, typer.Option(help="Force an engine.")] = EngineChoice.auto,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG of the result here.")] = None,
) -> None:
    """Solve the current network and show voltages, loadings, substation P/Q and losses."""
    from openderms.grid.powerflow import solve

    net = _current_network(workspace)
    eng: EngineName = engine.value
    result = solve(net, eng)
    topo = derive_topology(net)
    _print_result(result)
    _print_worst(net, result, topo)
    if plot is not None:
        from openderms.reporting.plots import plot_network_state

        plot_network_state(net, topo, result, plot, f"{net.name}: power flow ({result.engine})")
        console.print(f"picture: [bold]{plot}[/]")


@grid_app.command("switch")
def switch_(  # noqa: PLR0917 (Typer options)
    element_id: Annotated[str, typer.Argument(help="Id of the switch.")],
    action: Annotated[SwitchAction, typer.Argument(help="open or close")],
    live: Annotated[
        bool | None,
        typer.Option(
            "--live/--model",
            help="Operate the switch of the live run (`openderms run`) through its REST API, "
            "or the stored model; default: live when a live run's live.json is in the "
            "workspace.",
        ),
    ] = None,
    start: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z", "%Y-%m-%dT%H:%M:%S"],
            help="With --live: plan the order from this time (ISO 8601, UTC if no offset).",
        ),
    ] = None,
    end: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z", "%Y-%m-%dT%H:%M:%S"],
            help="With --start: the switch returns at this time (default: for good).",
        ),
    ] = None,
    workspace: Workspace = DEFAULT_WORKSPACE,
) -> None:
    """Open or close a switch in the current model (or in the live run) and show what changed;
    with --start (and --end), plan the switching in the live run instead."""
    from openderms.services.live.client import live_info, order_live, switch_live

    closed = action is SwitchAction.close
    if start is not None or end is not None:
        if start is None:
            raise typer.BadParameter("--end needs --start", param_hint="--end")
        until = _utc(end) if end is not None else None
        body = order_live(workspace, element_id, closed, _utc(start), until)
        console.print(
            f"order {body['order_id']}: {element_id} {'closed' if closed else 'open'} from "
            f"{body['start']} until {body['end'] or 'for good'}, published on "
            f"switching_orders.{body['substation_id']}",
            highlight=False,
        )
        return
    if live or (live is None and live_info(workspace) is not None):
        body = switch_live(workspace, element_id, closed)
        state = "closed" if body.get("closed") else "open"
        console.print(
            f"{element_id} {state}: reported on switch_states.{body.get('substation_id')} "
            "(the plant and the control loop follow it)"
        )
        return
    net = _current_network(workspace)
    before = derive_topology(net)
    new, after = switch(net, element_id, closed=closed)
    NetworkFileStore(workspace).save(new)
    lost = int((before.energised & ~after.energised).sum())
    gained = int((~before.energised & after.energised).sum())
    moved = sum(
        1
        for a, b, e in zip(before.feeder, after.feeder, after.energised.tolist(), strict=True)
        if e and a is not None and b is not None and a != b
    )
    console.print(f"{element_id} is now {'closed' if closed else 'open'}")
    console.print(f"buses de-energised: {lost}, re-energised: {gained}, moved feeder: {moved}")
    console.print(
        f"loops: {after.n_loops}; DER behind {element_id}: "
        f"{len(after.ders_behind(new, element_id) or before.ders_behind(net, element_id))}"
    )


@grid_app.command()
def validate(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="OpenDSS master file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    engine: Annotated[EngineChoice, typer.Option(help="Our engine to check.")] = EngineChoice.auto,
) -> None:
    """Import FILE with our importer, solve it with our engine, solve the original in
    OpenDSS, and compare node voltages."""
    from openderms.grid.opendss.compare import validate_against_opendss

    result = validate_against_opendss(file, engine=engine.value)
    if as_json:
        sys.stdout.write(json.dumps(result, default=str) + "\n")
        return
    table = Table(title=f"{file.name}: ours vs OpenDSS", show_header=False)
    for key, value in result.items():
        table.add_row(str(key), str(value))
    console.print(table)


@twin_app.command("build")
def twin_build(
    preset: Annotated[str, typer.Option(help="small or camden")] = "camden",
    seed: Annotated[int, typer.Option()] = 0,
    workspace: Workspace = DEFAULT_WORKSPACE,
) -> None:
    """Build a twin and make it the current network model."""
    from openderms.sim.twin import build_twin

    twin = build_twin(preset, seed)
    path = NetworkFileStore(workspace).save(twin.network)
    _print_counts(twin.network)
    console.print(f"saved to {path}")


def _utc(when: datetime) -> datetime:
    """A time given without an offset is UTC."""
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _quiet_highs_banner() -> None:
    """HiGHS prints a banner on stdout when its first model is made: send it to stderr."""
    import os

    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        highspy.Highs()  # type: ignore[no-untyped-call]
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _print_counts(net: Network) -> None:
    table = Table(title=f"Network '{net.name}'")
    table.add_column("table")
    table.add_column("count", justify="right")
    for name, count in net.summary().items():
        if count:
            table.add_row(name, f"{count:,}")
    console.print(table)


def _print_result(result: PowerFlowResult) -> None:
    live = result.v_pu[result.v_pu > 0]
    console.print(
        f"engine {result.engine}: converged={result.converged} in {result.solve_s * 1000:.1f} ms; "
        f"substation {result.substation_p_kw:,.0f} kW / {result.substation_q_kvar:,.0f} kvar "
        f"(negative = reverse flow); losses {result.losses_kw:,.1f} kW; "
        f"voltage {live.min():.4f}-{live.max():.4f} pu"
    )


def _print_worst(net: Network, result: PowerFlowResult, topo: Topology, n: int = 5) -> None:
    limits = {b.id: (b.v_min_pu, b.v_max_pu) for b in net.buses}
    over = [
        (bus, v)
        for bus, v in zip(result.node_bus, result.v_pu.tolist(), strict=True)
        if v > 0 and (v > limits[bus][1] or v < limits[bus][0])
    ]
    worst = sorted(
        zip(result.branch_ids, result.loading_pct.tolist(), strict=True), key=lambda t: -t[1]
    )[:n]
    table = Table(title="Most loaded branches")
    table.add_column("branch")
    table.add_column("loading %", justify="right")
    for bid, pct in worst:
        table.add_row(bid, f"{pct:.1f}")
    console.print(table)
    buses = {b for b, _ in over}
    console.print(f"nodes outside their voltage limits: {len(over)} (on {len(buses)} buses)")


def main() -> None:
    """Entry point: run the app, turning openderms errors into one readable line."""
    try:
        app()
    except ValidationError as exc:
        err_console.print(f"[red]invalid input[/]: {len(exc.issues)} issue(s)")
        for issue in exc.issues:
            err_console.print(f"  - {issue}")
        sys.exit(2)
    except OpenDermsError as exc:
        err_console.print(f"[red]error[/]: {exc}")
        sys.exit(2)
