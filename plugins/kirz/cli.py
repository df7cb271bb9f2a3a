"""The ``kirz`` command line: a thin shell over the library."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kirz.cli_pull import pull_app
from kirz.config import load_settings
from kirz.ingest.source import choices as source_choices

app = typer.Typer(
    help="kirz: usage accounting and impact reporting for the KI-Rechenzentrum Leipzig.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err = Console(stderr=True)

HomeOpt = typer.Option(None, "--home", help="Home folder (default: $KIRZ_HOME or ./var).")
ForceOpt = typer.Option(
    False, "--force",
    help="Go on although the data-quality gate is blocked; needs --reason and --by, is recorded in "
         "audit.gate_overrides and printed in every report rendered under it.")
ReasonOpt = typer.Option(None, "--reason", help="With --force: why the blocked gate is overridden.")
ByOpt = typer.Option(None, "--by", help="With --force: who overrides the gate (name or role).")
# exit code of a step the data-quality gate stopped (1: the step failed, 2: a usage error)
GATE_BLOCKED = 3


def _settings(home: Optional[Path]):
    return load_settings(home=home)


def _progress_enabled(settings) -> bool:
    return settings.progress if settings.progress is not None else sys.stdout.isatty()


@app.command()
def synth(
    out: Path = typer.Option(..., "--out", help="Folder to write the synthetic centre's files into."),
    nodes: int = typer.Option(56, help="Total nodes (about 6/7 GPU nodes, 1/7 CPU nodes)."),
    days: int = typer.Option(14, help="Number of days."),
    start: str = typer.Option("2026-10-19", help="First local day (YYYY-MM-DD)."),
    interval_s: int = typer.Option(30, "--interval-s", help="Power sampling interval in seconds."),
    seed: int = typer.Option(7, help="Random seed (same seed, same files)."),
    home: Optional[Path] = HomeOpt,
):
    """Write a synthetic data centre (Slurm, power, GPU metrics, meters, inventory, contracts, certificate ledger) in the real formats."""
    from kirz.synth import synthesize

    settings = _settings(home)
    manifest = synthesize(
        out, nodes=nodes, days=days, start=date.fromisoformat(start), interval_s=interval_s,
        seed=seed, tz=settings.timezone,
    )
    totals = manifest.get("totals", {})
    console.print(f"wrote the synthetic centre to [bold]{out}[/bold]")
    for key, val in totals.items():
        if isinstance(val, (int, float)):
            console.print(f"  {key}: {val:,}")


def print_ingest_results(results) -> None:
    table = Table(title="ingest", show_lines=False)
    for col in ("source", "file", "format", "status", "read", "loaded", "quarantined", "s"):
        table.add_column(col, justify="right" if col in ("read", "loaded", "quarantined", "s") else "left")
    for r in results:
        table.add_row(
            r.source, Path(r.path).name, r.format or "-", r.status, f"{r.rows_read:,}",
            f"{r.rows_loaded:,}", f"{r.rows_quarantined:,}", f"{r.duration_s:.2f}",
        )
    console.print(table)
    for r in results:
        if r.status == "rejected":
            err.print(f"[red]rejected[/red] {r.message}")
        elif r.status == "duplicate":
            console.print(f"[yellow]duplicate[/yellow] {r.path}: {r.message}")
        for reason, n in r.reasons.items():
            if r.status != "rejected":
                console.print(f"  quarantined {n} row(s) of {Path(r.path).name}: {reason}")


@app.command()
def ingest(
    source: str = typer.Argument(..., help=f"The source, one of {source_choices()}."),
    paths: list[Path] = typer.Argument(..., help="Files or folders."),
    format: Optional[str] = typer.Option(None, "--format", help="Force a format instead of detecting it."),
    fields: Optional[str] = typer.Option(
        None, "--fields", help="Field list of a headerless sacct -P file (comma-separated)."
    ),
    home: Optional[Path] = HomeOpt,
):
    """Load files into the warehouse's raw tables (idempotent; bad rows go to raw.quarantine)."""
    from kirz.ingest.loader import ingest_paths

    settings = _settings(home)
    try:
        results = ingest_paths(settings, source, paths, fmt=format, fields=fields)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2)
    print_ingest_results(results)
    if any(r.status == "rejected" for r in results):
        raise typer.Exit(1)


def _parse_day(text: Optional[str]):
    return date.fromisoformat(text) if text else None


def _check_override(force: bool, reason: Optional[str], by: Optional[str]) -> None:
    from kirz.validation import check_override_args

    try:
        check_override_args(force, reason, by)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2)


def _gate_blocked(decision) -> None:
    err.print(f"[red]data-quality gate blocked:[/red] {escape(decision.message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(GATE_BLOCKED)


def _print_gate(decision) -> None:
    text = escape(decision.message)
    if decision.status == "overridden":
        err.print(f"[yellow]data-quality gate overridden:[/yellow] {text}", highlight=False, soft_wrap=True)
    else:
        console.print(f"data-quality gate open: {text}", highlight=False, soft_wrap=True)


@app.command()
def transform(
    full_refresh: bool = typer.Option(False, "--full-refresh", help="Rebuild incremental models from scratch."),
    select: Optional[str] = typer.Option(None, "--select", help="dbt selection (default: everything)."),
    unit_tests: bool = typer.Option(
        False, "--unit-tests", help="Also run dbt's unit tests (SQL logic on fixed inputs; left out of production builds)."),
    home: Optional[Path] = HomeOpt,
):
    """Build the warehouse with dbt (seeds, models, snapshots, data tests) and print a summary."""
    from kirz.pipeline import print_transform_result
    from kirz.transform import transform as run

    settings = _settings(home)
    with console.status("dbt build ...", spinner="dots") if _progress_enabled(settings) else _null():
        result = run(settings, full_refresh=full_refresh, select=select, unit_tests=unit_tests)
    print_transform_result(result, console)
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def validate(
    layer: Optional[str] = typer.Option(None, "--layer", help="raw or marts (default: both)."),
    since: Optional[str] = typer.Option(None, "--since", help="First local day (YYYY-MM-DD)."),
    until: Optional[str] = typer.Option(None, "--until", help="Last local day (YYYY-MM-DD)."),
    home: Optional[Path] = HomeOpt,
):
    """Run the Great Expectations suites and record the results in audit.dq_*."""
    from kirz.pipeline import print_dq_run
    from kirz.validation import validate as run

    settings = _settings(home)
    if layer not in (None, "raw", "marts"):
        err.print(f"[red]error:[/red] --layer must be raw or marts, not {layer!r}")
        raise typer.Exit(2)
    result = run(settings, layer=layer, since=_parse_day(since), until=_parse_day(until))
    print_dq_run(result, console)
    if result.status == "failed":
        raise typer.Exit(1)


dq_app = typer.Typer(help="Data-quality results: acknowledge known failures.", no_args_is_help=True)
app.add_typer(dq_app, name="dq")
app.add_typer(pull_app, name="pull")


@dq_app.command("accept")
def dq_accept(
    suite: str = typer.Argument(..., help="Suite, e.g. raw.node_power."),
    expectation: str = typer.Argument(..., help="Expectation id, e.g. power_watts_within_node_range."),
    since: str = typer.Option(..., "--since", "--from", help="First local day the acceptance covers."),
    until: str = typer.Option(..., "--until", "--to", help="Last local day the acceptance covers."),
    reason: str = typer.Option(..., "--reason", help="Why the failure is known and acceptable."),
    by: str = typer.Option(..., "--by", help="Who accepts it (name or role)."),
    home: Optional[Path] = HomeOpt,
):
    """Acknowledge a known data-quality failure for a period, with a reason (recorded and reported)."""
    from kirz.validation import accept

    settings = _settings(home)
    try:
        accept(settings, suite, expectation, _parse_day(since), _parse_day(until), reason, by)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2)
    console.print(f"accepted {suite} / {expectation} for {since}..{until}: {reason}")


@app.command()
def report(
    period: Optional[str] = typer.Option(None, "--period", help="YYYY-MM, YYYY-Qn or YYYY (default: the latest complete one per kind)."),
    recipient: Optional[str] = typer.Option(None, "--recipient", help="One recipient id."),
    all_recipients: bool = typer.Option(False, "--all", help="Every recipient."),
    kind: Optional[list[str]] = typer.Option(
        None, "--kind", help="funder_impact, partner_statement, energy_annual or energy_register (the register's "
        "JSON and CSV; without --recipient, for every recipient that receives it)."),
    lang: Optional[list[str]] = typer.Option(None, "--lang", help="de or en."),
    deliver: bool = typer.Option(False, "--deliver", help="Deliver to the outbox (and by e-mail where configured)."),
    db: Optional[Path] = typer.Option(None, "--db", help="Warehouse file to read (default: the published snapshot)."),
    force: bool = ForceOpt,
    reason: Optional[str] = ReasonOpt,
    by: Optional[str] = ByOpt,
    home: Optional[Path] = HomeOpt,
):
    """Render reports (HTML, PDF, CSV) for funders, partners and the energy regulator, when the data-quality gate lets them."""
    from kirz.pipeline import print_report_outputs
    from kirz.reporting.service import EXPORTS, ReportError, report as run
    from kirz.validation import GateBlocked

    settings = _settings(home)
    if not recipient and not all_recipients:
        if not (kind and set(kind) <= set(EXPORTS)):
            err.print("[red]error:[/red] name a --recipient or use --all")
            raise typer.Exit(2)
        all_recipients = True  # an export goes to every recipient that receives it
    _check_override(force, reason, by)
    try:
        outputs = run(settings, recipient=recipient, all_recipients=all_recipients, period=period,
                      kinds=kind or None, langs=lang or None, deliver=deliver, db=db,
                      force=force, reason=reason, by=by)
    except GateBlocked as exc:
        _gate_blocked(exc.decision)
    except ReportError as exc:
        print_report_outputs(exc.outputs, console)
        for f in exc.failures:
            err.print(f"[red]failed:[/red] {f}")
        raise typer.Exit(1)
    except (ValueError, FileNotFoundError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2)
    for gate in {o.gate["override_id"]: o.gate for o in outputs if o.gate.get("override_id")}.values():
        err.print(f"[yellow]rendered under data-quality gate override[/yellow] {gate['override_id']} "
                  f"by {escape(gate['by'])}: {escape(gate['reason'])}", highlight=False, soft_wrap=True)
    print_report_outputs(outputs, console)


@app.command()
def publish(
    run_id: Optional[str] = typer.Option(None, "--run-id", help="Name of the snapshot (default: a UTC time stamp)."),
    force: bool = ForceOpt,
    reason: Optional[str] = ReasonOpt,
    by: Optional[str] = ByOpt,
    home: Optional[Path] = HomeOpt,
):
    """Pass the data-quality gate, then publish the analysts' read-only snapshot (atomic swap) and the monthly Parquet marts."""
    from kirz.publish import gated_publish
    from kirz.validation import GateBlocked

    settings = _settings(home)
    _check_override(force, reason, by)
    try:
        decision, pub = gated_publish(settings, run_id=run_id, force=force, reason=reason, by=by)
    except GateBlocked as exc:
        _gate_blocked(exc.decision)
    _print_gate(decision)
    console.print(f"published {pub.tables} tables: {pub.latest} -> {pub.snapshot.name}")


@app.command()
def docs(
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Serve the site on localhost after generating it."),
    port: int = typer.Option(8580, help="Port on 127.0.0.1."),
    home: Optional[Path] = HomeOpt,
):
    """Generate dbt's documentation site (marts, columns, lineage) and serve it on localhost."""
    from kirz.docs import generate_docs, serve as start

    settings = _settings(home)
    try:
        index = generate_docs(settings)
    except RuntimeError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1)
    console.print(f"docs: {index}")
    if serve:
        server, thread = start(index.parent, port=port)
        console.print(f"serving on http://127.0.0.1:{port}/  (Ctrl-C to stop)")
        try:
            thread.join()
        except KeyboardInterrupt:
            server.shutdown()


@app.command()
def airflow(
    port: int = typer.Option(8080, help="Port of the Airflow UI and API on 127.0.0.1."),
    demo_data: bool = typer.Option(True, "--demo-data/--no-demo-data", help="Drop the synthetic centre into the landing folders."),
    nodes: int = typer.Option(56, help="Nodes of the synthetic centre."),
    days: int = typer.Option(14, help="Days of synthetic data."),
    interval_s: int = typer.Option(30, "--interval-s", help="Power sampling interval in seconds."),
    production: bool = typer.Option(
        False, "--production",
        help="PostgreSQL metadata, CeleryExecutor on Redis, each component a process, two Celery workers "
             "(needs the production extra, postgresql and redis-server)."),
    home: Optional[Path] = HomeOpt,
):
    """Run Airflow locally with kirz's DAGs and plugin: standalone (SQLite, LocalExecutor), or
    with --production as a centre runs it (PostgreSQL, Celery on Redis, two workers)."""
    settings = _settings(home)
    if production:
        from kirz.airflow_prod import Ports
        from kirz.airflow_prod import main as production_main

        raise typer.Exit(production_main(settings, ports=Ports(api=port), demo=demo_data, nodes=nodes, days=days,
                                         interval_s=interval_s, out=console.print))
    from kirz.airflow_local import main

    raise typer.Exit(main(settings, port=port, demo=demo_data, nodes=nodes, days=days, interval_s=interval_s,
                          out=console.print))


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@app.command()
def demo(
    home: Optional[Path] = HomeOpt,
    nodes: int = typer.Option(56, help="Total nodes of the synthetic centre."),
    days: int = typer.Option(14, help="Days of synthetic data."),
    interval_s: int = typer.Option(30, "--interval-s", help="Power sampling interval in seconds."),
):
    """Synthesize the demo centre into the home folder, run the whole pipeline, print where outputs are."""
    from kirz.pipeline import run_demo

    settings = _settings(home)
    try:
        run_demo(settings, nodes=nodes, days=days, interval_s=interval_s, console=console)
    except RuntimeError as exc:
        err.print(f"[red]demo stopped:[/red] {exc}")
        raise typer.Exit(1)


@app.command()
def query(
    sql: Optional[str] = typer.Argument(None, help="The SQL to run (or use -f FILE)."),
    file: Optional[Path] = typer.Option(None, "-f", "--file", help="Read the SQL from a file."),
    format: str = typer.Option("table", "--format", help="table, csv, json or parquet."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the result to this file."),
    home: Optional[Path] = HomeOpt,
):
    """Run SQL read-only against the latest published snapshot (never blocks the pipeline)."""
    from kirz.analyst import QueryError, run_query, write_result

    settings = _settings(home)
    if (sql is None) == (file is None):
        err.print("[red]error:[/red] give the SQL as an argument or with -f FILE (one of them)")
        raise typer.Exit(2)
    text = file.read_text() if file else sql
    try:
        result = run_query(settings, text)
        if format == "table" and out is None:
            table = Table(show_lines=False)
            for c in result.columns:
                table.add_column(c)
            for row in result.rows:
                table.add_row(*("" if v is None else str(v) for v in row))
            console.print(table)
            console.print(f"{len(result.rows):,} row(s)")
        else:
            text_out = write_result(result, "csv" if format == "table" else format, out)
            if text_out is not None:
                sys.stdout.write(text_out)
            else:
                err.print(f"wrote {len(result.rows):,} row(s) to {out}")
    except (QueryError, FileNotFoundError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1)


@app.command()
def export(
    mart: str = typer.Option(..., "--mart", help="Mart name, e.g. fct_usage_daily."),
    period: Optional[str] = typer.Option(None, "--period", help="YYYY, YYYY-Qn or YYYY-MM (local time)."),
    format: str = typer.Option("parquet", "--format", help="parquet, csv or xlsx."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output file (default: <home>/exports/)."),
    home: Optional[Path] = HomeOpt,
):
    """Export one mart of the published snapshot for spreadsheets and BI tools."""
    from kirz.analyst import QueryError, export_mart

    settings = _settings(home)
    try:
        path = export_mart(settings, mart, format, period, out)
    except (QueryError, FileNotFoundError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1)
    console.print(f"wrote {path}")


if __name__ == "__main__":
    app()
