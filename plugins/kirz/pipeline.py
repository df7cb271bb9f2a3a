"""The pipeline's steps as plain functions: what the CLI, the demo and the DAG tasks call."""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console
from rich.table import Table

from kirz.config import Settings
from kirz.ingest.loader import FileResult, ingest_paths, iter_files
from kirz.ingest.source import source_names
from kirz.warehouse import RAW_TABLES, open_warehouse

# every declared source, in the order the declarations give (inventory and contracts first:
# later sources are read against them)
INGEST_ORDER = source_names()


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


DEMO_PERIODS = {"month": "2026-10", "quarter": "2026-Q4", "year": "2026"}


def print_transform_result(result, console: Console) -> None:
    table = Table(title=f"dbt build ({result.elapsed_s:.1f} s)")
    table.add_column("resource")
    for col in ("pass", "warn", "error", "skip"):
        table.add_column(col, justify="right")
    for rtype, counts in sorted(result.counts.items()):
        table.add_row(rtype, *(str(counts.get(k, 0)) for k in ("pass", "warn", "error", "skip")))
    console.print(table)
    colour = "green" if result.ok else "red"
    console.print(f"[{colour}]{result.message}[/{colour}]")


def print_dq_run(run, console: Console) -> None:
    parts = run.parts or [run]
    table = Table(title="data quality")
    for col in ("layer", "batch", "passed", "warnings", "critical", "status"):
        table.add_column(col, justify="right" if col in ("passed", "warnings", "critical") else "left")
    for part in parts:
        table.add_row(part.layer, part.batch, str(part.passed), str(part.warnings), str(part.critical), part.status)
    console.print(table)
    for part in parts:
        failed: dict[tuple[str, str], list[dict]] = {}
        for r in part.results:
            if not r.get("success"):
                failed.setdefault((r["suite"], r["expectation"]), []).append(r)
        for (suite, expectation), group in failed.items():
            first = group[0]
            mark = "[red]critical[/red]" if first["severity"] == "critical" else "[yellow]warning[/yellow]"
            days = sorted({str(r["period_start"]) for r in group if r.get("period_start")})
            where = f" on {len(days)} day(s) from {days[0]}" if days else ""
            unexpected = sum(r.get("unexpected_count") or 0 for r in group)
            console.print(f"  {mark} {suite} / {expectation}{where}: {first['meaning']} ({unexpected:,} unexpected)")
        if part.html_path:
            console.print(f"  page: {part.html_path}")


def print_report_outputs(outputs, console: Console) -> None:
    table = Table(title="reports")
    for col in ("recipient", "kind", "period", "lang", "version", "issued", "delivery", "file (under reports/)"):
        table.add_column(col)
    for o in outputs:
        delivery = ", ".join(o.delivered) or o.held or "-"
        table.add_row(o.recipient, o.kind, o.period, o.lang, f"v{o.version}", o.status, delivery,
                      f"{o.recipient}/{o.period}/{o.pdf.name}")
    console.print(table)


def run_demo(settings: Settings, *, nodes: int = 56, days: int = 14, interval_s: int = 30, console: Console | None = None) -> dict:
    """The whole pipeline on the synthetic centre: synth, ingest, validate, transform, publish, report."""
    from kirz.publish import gated_publish
    from kirz.reporting.service import ReportError, report
    from kirz.synth import synthesize
    from kirz.transform import transform
    from kirz.validation import GateBlocked, validate

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
    console.print("   files: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())))
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

    console.print("3. validating the raw layer")
    print_dq_run(validate(settings, layer="raw"), console)

    console.print("4. transforming (dbt build)")
    with console.status("dbt build ..."):
        result = transform(settings)
    print_transform_result(result, console)
    if not result.ok:
        raise RuntimeError(result.message)

    console.print("5. validating the marts")
    print_dq_run(validate(settings, layer="marts"), console)

    with open_warehouse(settings.warehouse_path) as con:
        kpis = {
            area: {k["kpi"]: k for k in _area_kpis(con, DEMO_PERIODS["month"], area)}
            for area in ("methods_research", "cooperation", "education", "operations", "unassigned")
        }
    _print_kpis(kpis, console)
    try:
        decision, pub = gated_publish(settings)
    except GateBlocked as exc:
        decision, pub = exc.decision, None
    console.print(f"6. gate for {decision.period_start}..{decision.period_end}: "
                  + ("[green]open[/green]" if decision.ok else f"[red]blocked[/red]: {decision.message}"))
    outputs = []
    if pub is not None:
        console.print(f"   published snapshot: {pub.latest} ({pub.tables} tables); Parquet marts: {pub.parquet_dir}")
        console.print("7. rendering the demo period's reports")
        for period in DEMO_PERIODS.values():
            try:
                with console.status(f"rendering {period} ..."):
                    outputs += report(settings, all_recipients=True, period=period, langs=["de", "en"], deliver=True)
            except ReportError as exc:
                outputs += exc.outputs
                for f in exc.failures:
                    console.print(f"[red]report failed:[/red] {f}")
        print_report_outputs([o for o in outputs if o.recipient in _demo_showcase(outputs)], console)
    console.rule("[bold]where things are")
    console.print(f"warehouse (live):     {settings.warehouse_path.resolve()}")
    console.print(f"snapshot (analysts):  {(settings.published_dir / 'latest.duckdb').resolve()}   try: kirz query \"select * from marts.fct_impact_kpis limit 5\"")
    console.print(f"reports:              {settings.reports_dir.resolve()}  ({len(outputs)} report files sets)")
    console.print(f"outbox:               {(settings.home / 'outbox').resolve()}")
    console.print(f"data-quality page:    {(settings.home / 'dq' / 'latest.html').resolve()}")
    return {"manifest": manifest, "counts": counts, "run": run, "kpis": kpis, "outputs": outputs, "gate": decision}


def _area_kpis(con, period: str, area: str) -> list[dict]:
    rows = con.execute(
        "select kpi, value, unit from marts.fct_impact_kpis where period_type = 'month' and period = ? and usage_area = ?",
        [period, area],
    ).fetchall()
    return [{"kpi": k, "value": v, "unit": u} for k, v, u in rows]


HEADLINE = ("gpu_hours", "gpu_utilization_pct", "gpu_used_pct", "cpu_core_hours", "jobs", "active_users",
            "active_partners", "it_energy_kwh", "facility_energy_kwh", "co2e_location_kg", "cost_eur", "subsidy_eur")


def _print_kpis(kpis: dict, console: Console) -> None:
    present = [k for k in HEADLINE if any(k in v for v in kpis.values())]
    table = Table(title=f"headline KPIs per usage area, {DEMO_PERIODS['month']}")
    table.add_column("kpi")
    for area in kpis:
        table.add_column(area, justify="right")
    for k in present:
        unit = next((v[k]["unit"] for v in kpis.values() if k in v), "")
        table.add_row(f"{k} [{unit}]", *(f"{v[k]['value']:,.1f}" if k in v and v[k]["value"] is not None else "-" for v in kpis.values()))
    console.print(table)


def _demo_showcase(outputs) -> set[str]:
    """The recipients whose reports the demo lists (funders and the regulator, plus one partner)."""
    names = {o.recipient for o in outputs if o.kind != "partner_statement"}
    partners = sorted({o.recipient for o in outputs if o.kind == "partner_statement"})
    return names | set(partners[:1])


# ---------------------------------------------------------------------------------------------
# The steps the scheduler runs (each DAG task calls one of these) and the CLI shares.


def ingest_source(settings: Settings, source: str) -> dict:
    """Ingest what waits in one landing folder and summarise the files and rows of that batch.

    The raw-layer validation runs in the transform DAG, before the dbt build.
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
