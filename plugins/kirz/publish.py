"""The analysts' read-only snapshot: written whole, then swapped in atomically.

``<home>/published/`` holds

- ``snapshots/kirz-<stamp>.duckdb``: dated snapshots (the newest ``keep`` are kept);
- ``latest.duckdb``: a hard link to the newest snapshot, replaced with ``os.replace`` so a
  reader opens either the previous or the new file, never a half-written one;
- ``parquet/<mart>/month=YYYY-MM/*.parquet``: the month-grained marts as partitioned Parquet,
  readable by every engine; swapped in by renaming a finished folder.

Snapshots are written in DuckDB's v1.4 storage format so that tools embedding DuckDB 1.x open
them too. They hold what analysts query: ``marts``, ``reporting`` (what reports read), ``ref`` (seeds and settings), ``snapshots`` (contract
history) and ``audit``; raw samples stay in the live warehouse.

:func:`gated_publish` is what the publish DAG, ``kirz publish`` and the demo call: the
data-quality gate, then the snapshot, on one connection. A snapshot published under a gate
override holds the override in ``audit.gate_overrides`` and names it in ``meta.snapshot``.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from kirz.config import Settings
from kirz.validation import GateBlocked, GateDecision, pass_gate
from kirz.warehouse import open_warehouse

PUBLISHED_SCHEMAS = ("marts", "reporting", "ref", "snapshots", "audit")
STORAGE_VERSION = "v1.4.0"
# mart -> the column that places its rows in local time: it cuts the monthly Parquet partitions
# here and the --period of `kirz export`
MART_PERIOD_COLUMN = {
    "fct_job_usage": "start_at",
    "fct_usage_daily": "day",
    "fct_energy_daily": "day",
    "fct_contract_utilization": "month",
}


@dataclass
class Published:
    snapshot: Path
    latest: Path
    tables: int
    parquet_dir: Path | None


def _tables(con, db: str) -> list[tuple[str, str]]:
    return con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = ? order by 1, 2",
        [db],
    ).fetchall()


def gated_publish(
    settings: Settings,
    run_id: str | None = None,
    keep: int = 7,
    *,
    force: bool = False,
    reason: str | None = None,
    by: str | None = None,
    con=None,
) -> tuple[GateDecision, Published]:
    """Pass the data-quality gate over the days the marts hold, then publish the snapshot.

    Gate and snapshot share one read-write connection to the live warehouse, so no rebuild
    slips in between what was checked and what is published, and an override recorded by the
    gate is in the snapshot. Raises :class:`~kirz.validation.GateBlocked` (nothing written)
    when the gate is blocked and not forced (``force`` with ``reason`` and ``by``), or when
    the marts hold no days.
    """
    if con is None:
        with open_warehouse(settings.warehouse_path) as own:
            return gated_publish(settings, run_id, keep, force=force, reason=reason, by=by, con=own)
    decision = pass_gate(con, settings.timezone, "publish", force=force, reason=reason, by=by)
    if not decision.ok:
        raise GateBlocked(decision)
    return decision, publish_snapshot(settings, run_id=run_id, keep=keep, con=con, gate=decision)


def publish_snapshot(
    settings: Settings, run_id: str | None = None, keep: int = 7, con=None, gate: GateDecision | None = None,
) -> Published:
    """Copy the published schemas of the live warehouse into a new snapshot and swap it in.

    ``con`` is the pipeline's open read-write connection to the live warehouse, when the
    caller has one (DuckDB allows one writing process per file). ``gate``: the decision it
    is published under, recorded in ``meta.snapshot`` (use :func:`gated_publish`).
    """
    stamp = run_id or datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out_dir = settings.published_dir
    snap_dir = out_dir / "snapshots"
    snap_dir.mkdir(parents=True, exist_ok=True)
    final = snap_dir / f"kirz-{stamp}.duckdb"
    tmp = snap_dir / f".kirz-{stamp}.duckdb.tmp"
    for p in (tmp, Path(str(tmp) + ".wal")):
        p.unlink(missing_ok=True)

    own = con is None
    if own:
        con = duckdb.connect()
        con.execute("set TimeZone = 'UTC'")
        con.execute(f"attach '{settings.warehouse_path}' as kirz_live (read_only)")
    try:
        live = "kirz_live" if own else con.execute("select current_database()").fetchall()[0][0]
        con.execute(f"attach '{tmp}' as kirz_snapshot (storage_version '{STORAGE_VERSION}')")
        try:
            n = 0
            for schema, table in _tables(con, live):
                if schema not in PUBLISHED_SCHEMAS:
                    continue
                con.execute(f"create schema if not exists kirz_snapshot.{schema}")
                con.execute(
                    f'create table kirz_snapshot.{schema}."{table}" as select * from {live}.{schema}."{table}"'
                )
                n += 1
            con.execute("create schema if not exists kirz_snapshot.meta")
            con.execute(
                "create table kirz_snapshot.meta.snapshot as select ? as run_id, ?::timestamptz as published_at, "
                "?::varchar as gate_status, ?::varchar as gate_override_id",
                [stamp, datetime.now(timezone.utc), gate.status if gate else None,
                 gate.override["override_id"] if gate and gate.override else None],
            )
        finally:
            con.execute("detach kirz_snapshot")
        parquet_dir = _write_parquet(con, live, out_dir, settings.timezone)
    finally:
        if own:
            con.close()

    os.replace(tmp, final)
    os.chmod(final, 0o444)
    link_tmp = out_dir / ".latest.duckdb.tmp"
    link_tmp.unlink(missing_ok=True)
    os.link(final, link_tmp)
    os.replace(link_tmp, out_dir / "latest.duckdb")
    (out_dir / "LATEST").write_text(json.dumps({"run_id": stamp, "snapshot": final.name}) + "\n")
    _prune(snap_dir, keep)
    return Published(snapshot=final, latest=out_dir / "latest.duckdb", tables=n, parquet_dir=parquet_dir)


def _write_parquet(con, live: str, out_dir: Path, tz: str) -> Path | None:
    """The month-grained marts as Parquet partitioned by local month, swapped in by rename."""
    present = {t for s, t in _tables(con, live) if s == "marts"}
    todo = {m: c for m, c in MART_PERIOD_COLUMN.items() if m in present}
    if not todo:
        return None
    final = out_dir / "parquet"
    tmp = out_dir / ".parquet.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for mart, col in todo.items():
        if col == "start_at":
            month_expr = f"strftime(timezone('{tz}', start_at), '%Y-%m')"
        else:
            month_expr = f"left(cast({col} as varchar), 7)"
        con.execute(
            f"copy (select *, {month_expr} as month_partition from {live}.marts.{mart}) "
            f"to '{tmp / mart}' (format parquet, partition_by (month_partition), overwrite_or_ignore)"
        )
    old = out_dir / ".parquet.old"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def _prune(snap_dir: Path, keep: int) -> None:
    snaps = sorted(snap_dir.glob("kirz-*.duckdb"))
    for old in snaps[:-keep] if keep > 0 else []:
        old.chmod(0o644)
        old.unlink()


def latest_snapshot(settings: Settings) -> Path:
    path = settings.published_dir / "latest.duckdb"
    if not path.exists():
        raise FileNotFoundError(
            f"no published snapshot at {path}: run the pipeline (make demo, or kirz transform) first"
        )
    return path
