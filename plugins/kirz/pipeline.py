"""The pipeline's steps as plain functions: what the CLI, the demo and the DAG tasks call."""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console
from rich.table import Table

from kirz.config import SOURCES, Settings
from kirz.ingest.loader import FileResult, ingest_paths, iter_files
from kirz.warehouse import RAW_TABLES, open_warehouse

# inventory and contracts first: later sources are read against them
INGEST_ORDER = ("inventory", "contracts", "slurm", "power", "meters")


@dataclass
class LandingRun:
    results: list[FileResult] = field(default_factory=list)

    @property
    def rejected(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "rejected"]


def _archive(settings: Settings, source: str, result: FileResult) -> Path:
    """Move a processed file out of the landing folder (loaded/duplicate -> archive, else rejected)."""
    src = Path(result.path)
    kind = "rejected" if result.status == "rejected" else "archive"
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    dest_dir = settings.home / kind / source / stamp
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / src.name
    if dest.exists():
        dest = dest_dir / f"{src.stem}.{result.sha256[:12]}{src.suffix}"
    shutil.move(str(src), dest)
    return dest


def ingest_landing(settings: Settings, sources=INGEST_ORDER, con=None, on_file=None, create_key: bool = False) -> LandingRun:
    """Ingest every file waiting in the landing folders, then move it out of landing.

    A file is moved only after its transaction committed, so a killed run leaves it in
    landing and the next run loads it (or, when it had committed, records it as duplicate).
    """
    run = LandingRun()
    for source in sources:
        folder = settings.landing_for(source)
        if not folder.exists():
            continue
        files = iter_files([folder])
        if not files:
            continue

        def _done(result: FileResult, source=source):
            _archive(settings, source, result)
            if on_file:
                on_file(result)

        run.results.extend(
            ingest_paths(settings, source, files, con=con, on_file=_done, create_key=create_key)
        )
    return run


def raw_counts(con) -> dict[str, int]:
    return {t: con.execute(f"select count(*) from raw.{t}").fetchall()[0][0] for t in RAW_TABLES}


def quarantine_summary(con) -> list[tuple[str, str, int]]:
    return con.execute(
        """
        select source, case when length(reason) > 90 then left(reason, 87) || '...' else reason end as r,
               count(*) from raw.quarantine group by all order by 3 desc, 1, 2
        """
    ).fetchall()


def run_demo(settings: Settings, *, nodes: int = 56, days: int = 14, interval_s: int = 30, console: Console | None = None) -> dict:
    """Synthesize the demo centre into landing, ingest it, print a summary."""
    from kirz.synth import synthesize

    console = console or Console()
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.pseudonym_key_bytes(create=True)
    console.rule("[bold]kirz demo")
    console.print(f"home: {settings.home.resolve()}")
    console.print(f"1. synthesizing {nodes} nodes x {days} days at {interval_s} s into {settings.landing}")
    manifest = synthesize(settings.landing, nodes=nodes, days=days, interval_s=interval_s, tz=settings.timezone)
    (settings.landing / "manifest.json").replace(settings.home / "synth-manifest.json")

    console.print("2. ingesting the landing folders")
    statuses: Counter = Counter()
    run = ingest_landing(settings, on_file=lambda r: statuses.update([r.status]))
    console.print(
        "   files: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
    )
    with open_warehouse(settings.warehouse_path) as con:
        counts = raw_counts(con)
        quarantined = quarantine_summary(con)
    table = Table(title="raw tables")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in counts.items():
        table.add_row(f"raw.{name}", f"{n:,}")
    console.print(table)
    if quarantined:
        q = Table(title="quarantined rows (raw.quarantine)")
        q.add_column("source")
        q.add_column("reason")
        q.add_column("rows", justify="right")
        for source, reason, n in quarantined:
            q.add_row(source, reason, f"{n:,}")
        console.print(q)
    for r in run.rejected:
        console.print(f"[red]rejected[/red] {r.message}")
    console.print(f"warehouse: {settings.warehouse_path.resolve()}")
    return {"manifest": manifest, "counts": counts, "run": run}


# ---------------------------------------------------------------------------------------------
# The steps the scheduler runs (each DAG task calls one of these) and the CLI shares.


def ingest_source(settings: Settings, source: str) -> dict:
    """Ingest what waits in one landing folder, then validate the raw tables of that batch.

    Data quality never blocks ingestion: the validation result is recorded and returned.
    """
    run = ingest_landing(settings, sources=(source,))
    summary = {
        "source": source,
        "files": len(run.results),
        "loaded": sum(r.status == "loaded" for r in run.results),
        "duplicate": sum(r.status == "duplicate" for r in run.results),
        "rejected": [r.message for r in run.rejected],
        "rows_loaded": sum(r.rows_loaded for r in run.results),
        "rows_quarantined": sum(r.rows_quarantined for r in run.results),
        "ingest_ids": [r.ingest_id for r in run.results if r.status == "loaded"],
    }
    return summary


def run_transform(settings: Settings, full_refresh: bool = False) -> dict:
    """dbt build (seeds, models, snapshots, tests); raises when a model or test fails."""
    from kirz.transform import transform

    result = transform(settings, full_refresh=full_refresh)
    if not result.ok:
        raise RuntimeError(f"dbt build failed: {result.message}")
    return {"ok": True, "message": result.message}
