"""``kirz pull slurm|prometheus``: fetch from the live systems into the landing folders.

A thin shell over :mod:`kirz.pull`; ``kirz ingest`` (or the ingest DAGs) loads what lands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from kirz.config import load_settings

pull_app = typer.Typer(
    help="Pull Slurm accounting (sacct), node power and GPU metrics (Prometheus) into the landing folders.",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)

_HOME = typer.Option(None, "--home", help="Home folder (default: $KIRZ_HOME or ./var).")
_SINCE = typer.Option(None, "--since", help="Window start, ISO 8601 (local time without offset); default: the watermark.")
_UNTIL = typer.Option(None, "--until", help="Window end, ISO 8601 (local time without offset); default: now.")


def _when(dt) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S UTC") if dt else "-"


@pull_app.command("slurm")
def slurm(
    since: Optional[str] = _SINCE,
    until: Optional[str] = _UNTIL,
    clusters: Optional[str] = typer.Option(None, "--clusters", help="Comma-separated Slurm clusters (sacct --clusters); default: clusters of the pull.slurm table in kirz.toml."),
    home: Optional[Path] = _HOME,
):
    """Run sacct for the window since the last pull (minus the overlap) into landing/slurm/."""
    from kirz.pull import PullError, pull_slurm

    settings = load_settings(home=home)
    try:
        result = pull_slurm(settings, since=since, until=until, clusters=clusters)
    except PullError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    for w in result.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(w)}", highlight=False, soft_wrap=True)
    console.print(
        f"slurm ({result.key}): {result.records:,} records from {_when(result.window_start)} "
        f"to {_when(result.window_end)} -> {result.files[0]}", highlight=False, soft_wrap=True,
    )
    console.print(f"watermark: {_when(result.watermark_at)}", highlight=False, soft_wrap=True)


@pull_app.command("prometheus")
def prometheus(
    since: Optional[str] = _SINCE,
    until: Optional[str] = typer.Option(None, "--until", help="Window end, ISO 8601 (local time without offset); default: now minus lag_s."),
    query: Optional[list[str]] = typer.Option(None, "--query", help="Only this configured query (repeatable); default: every query of the pull.prometheus table."),
    home: Optional[Path] = _HOME,
):
    """Ask Prometheus (/api/v1/query_range, in chunks) for each query since its watermark into landing/power/ or landing/gpu/."""
    from kirz.pull import PullError, pull_prometheus

    settings = load_settings(home=home)
    try:
        results = pull_prometheus(settings, since=since, until=until, queries=query or None)
    except PullError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    for r in results:
        console.print(
            f"{r.key}: {r.records:,} points in {r.series:,} series, {r.chunks} chunk(s), {len(r.files)} file(s), "
            f"{r.requests} request(s); {_when(r.window_start)} to {_when(r.window_end)}; "
            f"watermark {_when(r.watermark_at)}", highlight=False, soft_wrap=True,
        )
        for f in r.files:
            console.print(f"  {f}", highlight=False, soft_wrap=True)
