"""``openderms der ...``, ``openderms token ...``, ``openderms aggregator ...`` and ``openderms
serve``: the registry's command line (mounted on the main app by ``mount``).

Settings come from the options, then ``OPENDERMS_*`` variables, then defaults (SQLite in the
workspace, the ``camden`` twin). Errors are shown by ``openderms.cli.main``: a CSV with bad rows
imports nothing and lists every bad row.
"""

from __future__ import annotations

from contextlib import ExitStack
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, get_args

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from openderms.config import Settings
from openderms.registry.ports import Actor, DerQuery

der_app = typer.Typer(no_args_is_help=True, help="DER registry: bulk import, list.")
token_app = typer.Typer(no_args_is_help=True, help="API and portal access tokens.")
aggregator_app = typer.Typer(
    no_args_is_help=True, help="Aggregators and their 2030.5 certificate's LFDI."
)

console = Console()

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(help="Folder for local state (default .openderms; env OPENDERMS_WORKSPACE)."),
]
DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        help="SQLAlchemy URL (default SQLite in the workspace; env OPENDERMS_DATABASE_URL)."
    ),
]


class RoleChoice(StrEnum):
    installer = "installer"
    aggregator = "aggregator"
    operator = "operator"


def mount(app: typer.Typer) -> None:
    """Add the registry's commands to the main ``openderms`` app."""
    app.add_typer(der_app, name="der")
    app.add_typer(token_app, name="token")
    app.add_typer(aggregator_app, name="aggregator")
    app.command()(serve)


def _settings(workspace: Path | None, database_url: str | None) -> Settings:
    given: dict[str, Any] = {"workspace": workspace, "database_url": database_url}
    return Settings(**{k: v for k, v in given.items() if v is not None})


@der_app.command("import")
def import_csv(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV of DER.")],
    installer: Annotated[str, typer.Option("--as", help="Installer id they are filed under.")] = (
        "cli"
    ),
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Register every DER of FILE (all or nothing), screening each, with a progress bar."""
    from openderms.registry.csv_import import parse_csv
    from openderms.web.mapper.ders import decision_counts
    from openderms.web.wiring import open_runtime

    registrations = parse_csv(file.read_text(encoding="utf-8-sig"))
    settings = _settings(workspace, database_url)
    actor = Actor(id=installer, role="installer")
    columns = (
        TextColumn("screening"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with ExitStack() as stack:
        with console.status("building the network and opening the store..."):
            runtime = stack.enter_context(open_runtime(settings))
        progress = stack.enter_context(Progress(*columns, console=console))
        task = progress.add_task("screening", total=len(registrations))

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        records = runtime.service.register_many(registrations, actor, progress=advance)
    counts = decision_counts(records)
    console.print(f"{len(records):,} DER registered from {file.name}")
    table = Table(title="screening decisions")
    table.add_column("decision")
    table.add_column("count", justify="right")
    for decision, count in counts.items():
        table.add_row(decision, f"{count:,}")
    console.print(table)


@der_app.command("list")
def list_ders(
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    feeder: Annotated[str | None, typer.Option(help="Only this feeder.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many rows.")] = 50,
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
) -> None:
    """List registered DER (as an operator sees them)."""
    from openderms.registry.domain import Status
    from openderms.store import open_store

    statuses: tuple[Status, ...] = get_args(Status)
    chosen = next((s for s in statuses if s == status), None)
    if status is not None and chosen is None:
        raise typer.BadParameter(f"expected one of {', '.join(statuses)}", param_hint="--status")
    settings = _settings(workspace, database_url)
    with open_store(settings.resolved_database_url()) as store:
        records, total = store.ders.query(DerQuery(status=chosen, feeder_id=feeder, limit=limit))
    table = Table(title=f"DER ({len(records)} of {total:,})")
    for col in ("id", "application", "type", "export kW", "status", "decision", "bus"):
        table.add_column(col, justify="right" if col == "export kW" else "left")
    for r in records:
        s = r.screening
        table.add_row(
            r.id,
            r.registration.application_id,
            r.registration.der_type,
            f"{r.registration.nameplate.p_export_kw:,.1f}",
            r.status,
            "" if s is None else s.decision,
            "" if s is None else s.bus_id,
        )
    console.print(table)


@token_app.command("create")
def token_create(
    role: Annotated[RoleChoice, typer.Option(help="installer, aggregator or operator")],
    actor_id: Annotated[str, typer.Option("--id", help="Who the token stands for.")],
    aggregator_id: Annotated[
        str | None, typer.Option(help="For an aggregator: its aggregator id (default --id).")
    ] = None,
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Issue a token for an installer, aggregator or operator and print it (shown once)."""
    from openderms.store import open_store

    agg = (aggregator_id or actor_id) if role is RoleChoice.aggregator else aggregator_id
    actor = Actor(id=actor_id, role=role.value, aggregator_id=agg)
    settings = _settings(workspace, database_url)
    with open_store(settings.resolved_database_url()) as store:
        token = store.tokens.create(actor)
    typer.echo(token)


@aggregator_app.command("add")
def aggregator_add(  # noqa: PLR0917 (Typer options)
    aggregator_id: Annotated[str, typer.Argument(help="The aggregator id DER name.")],
    cert: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="Its 2030.5 client certificate (PEM)."),
    ] = None,
    lfdi: Annotated[str | None, typer.Option(help="Or its certificate's LFDI (40 hex).")] = None,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Register an aggregator with the LFDI of its certificate (--cert or --lfdi)."""
    from openderms.registry.aggregators import AggregatorRegistry, lfdi_of_pem, parse_aggregator
    from openderms.registry.memory import SystemClock
    from openderms.store import open_store
    from openderms.store.aggregator_repository import SqlAggregatorRepository

    if (cert is None) == (lfdi is None):
        raise typer.BadParameter("give --cert FILE.pem or --lfdi HEX (one of them)")
    given = lfdi if cert is None else lfdi_of_pem(cert.read_bytes(), aggregator_id, "--cert")
    data = parse_aggregator({"id": aggregator_id, "name": name, "lfdi": given})
    settings = _settings(workspace, database_url)
    with open_store(settings.resolved_database_url()) as store:
        registry = AggregatorRegistry(
            SqlAggregatorRepository(store.engine), store.ders, SystemClock()
        )
        agg = registry.add(data, Actor(id="cli", role="operator"))
    console.print(f"aggregator {agg.id} registered, LFDI {agg.lfdi}")


@aggregator_app.command("list")
def aggregator_list(workspace: WorkspaceOpt = None, database_url: DatabaseOpt = None) -> None:
    """List the registered aggregators and their LFDIs."""
    from openderms.store import open_store
    from openderms.store.aggregator_repository import SqlAggregatorRepository

    settings = _settings(workspace, database_url)
    with open_store(settings.resolved_database_url()) as store:
        aggs = SqlAggregatorRepository(store.engine).all()
    table = Table(title=f"aggregators ({len(aggs)})")
    for col in ("id", "name", "LFDI"):
        table.add_column(col)
    for a in aggs:
        table.add_row(a.id, a.name, a.lfdi)
    console.print(table)


def serve(  # noqa: PLR0917 (Typer options)
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    sep_port: Annotated[
        int | None,
        typer.Option(help="Also serve IEEE 2030.5 (CSIP TLS) on this port, same store."),
    ] = None,
    sep_host: Annotated[str, typer.Option(help="Address of the 2030.5 server.")] = "127.0.0.1",
    sep_cert: Annotated[Path | None, typer.Option(help="2030.5 server certificate (PEM).")] = None,
    sep_key: Annotated[Path | None, typer.Option(help="Its private key (PEM).")] = None,
    sep_ca: Annotated[
        Path | None,
        typer.Option(help="CA of client certificates (default: a workspace CA, made once)."),
    ] = None,
) -> None:
    """Run the REST API (docs at /docs) and the portal with uvicorn; with --sep-port also
    the 2030.5 server, which maps registered DER with a certificate identity to EndDevices."""
    import uvicorn

    from openderms.web.app import create_app

    settings = _settings(workspace, database_url)
    if sep_port is None:
        console.print(f"openderms on http://{host}:{port}/ (API docs at /docs)")
        uvicorn.run(create_app(settings), host=host, port=port, access_log=False)
        return
    import asyncio

    from openderms.services.der_2030_5_serve import SepOptions, serve_forever

    if len({sep_cert is None, sep_key is None, sep_ca is None}) != 1:
        raise typer.BadParameter("give --sep-cert, --sep-key and --sep-ca together, or none")
    sep = SepOptions(port=sep_port, host=sep_host, cert=sep_cert, key=sep_key, ca=sep_ca)
    console.print(
        f"openderms on http://{host}:{port}/ (API docs at /docs), "
        f"IEEE 2030.5 on https://{sep_host}:{sep_port}/"
    )
    try:
        asyncio.run(serve_forever(settings, host, port, sep))
    except KeyboardInterrupt:
        console.print("stopped")
