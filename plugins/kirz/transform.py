"""Run the dbt project (seeds, models, snapshots, tests) in-process and summarise the outcome.

dbt reads its warehouse path and time zone from the environment (``KIRZ_WAREHOUSE``,
``KIRZ_TIMEZONE`` in profiles.yml and dbt_project.yml), so each invocation sets them from the
settings for its duration. Target and log folders live under ``settings.home / 'dbt'`` so that
several homes (tests, demo, production) never share dbt's state.
"""

from __future__ import annotations

import json
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from kirz.config import DBT_PROJECT_DIR, Settings
from kirz.warehouse import open_warehouse

# statuses dbt reports per node, grouped into the four buckets of the summary
_STATUS_BUCKET = {
    "success": "pass",
    "pass": "pass",
    "warn": "warn",
    "error": "error",
    "fail": "error",
    "runtime error": "error",
    "skipped": "skip",
    "no-op": "pass",
}

_env_lock = threading.Lock()


@dataclass(frozen=True)
class NodeResult:
    """One dbt node's outcome (model, seed, snapshot, test or unit test)."""

    unique_id: str
    name: str
    resource_type: str
    status: str
    message: str | None
    failures: int | None
    execution_time: float


@dataclass
class DbtRun:
    """The outcome of one dbt invocation."""

    args: list[str]
    success: bool
    results: list[NodeResult] = field(default_factory=list)
    exception: str | None = None
    elapsed_s: float = 0.0


@dataclass
class TransformResult:
    """Summary of a ``dbt build``: counts per resource type and bucket, failures, time."""

    ok: bool
    message: str
    counts: dict[str, dict[str, int]]
    failures: list[NodeResult]
    elapsed_s: float
    run: DbtRun

    def failed_names(self) -> list[str]:
        return [f.name for f in self.failures]


def dbt_paths(settings: Settings) -> dict[str, Path]:
    base = settings.home / "dbt"
    return {"target": base / "target", "logs": base / "logs"}


@contextmanager
def _dbt_environment(settings: Settings) -> Iterator[None]:
    """Set the variables profiles.yml and dbt_project.yml read, restoring them afterwards.

    The lock keeps two threads of one process from interleaving their environments.
    """
    wanted = {
        "KIRZ_WAREHOUSE": str(Path(settings.warehouse_path).resolve()),
        "KIRZ_TIMEZONE": settings.timezone,
        "KIRZ_MEMORY_LIMIT": settings.memory_limit,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    with _env_lock:
        saved = {k: os.environ.get(k) for k in wanted}
        os.environ.update(wanted)
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def _release_duckdb() -> None:
    """Close the database dbt-duckdb keeps open in this process after an invocation.

    Left open, it blocks every other process from the warehouse file and makes a later
    read-only connection in this process fail ("different configuration").
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        if env is not None:
            env.close()
            DuckDBConnectionManager._ENV = None


def _node_result(res) -> NodeResult:
    node = res.node
    status = str(getattr(res.status, "value", res.status)).lower()
    return NodeResult(
        unique_id=node.unique_id,
        name=node.name,
        resource_type=str(getattr(node.resource_type, "value", node.resource_type)),
        status=status,
        message=res.message,
        failures=res.failures,
        execution_time=float(res.execution_time or 0.0),
    )


def run_dbt(settings: Settings, args: list[str]) -> DbtRun:
    """Invoke dbt with ``args`` (e.g. ``['build', '--select', 'marts']``) on the settings' warehouse.

    Project, profiles, target and log paths are added here. The raw schema is created first
    so that a fresh warehouse builds (to empty marts) instead of failing on missing sources.
    """
    from dbt.cli.main import dbtRunner

    with open_warehouse(settings.warehouse_path):
        pass
    paths = dbt_paths(settings)
    for p in paths.values():
        p.mkdir(parents=True, exist_ok=True)
    full_args = list(args) + [
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(paths["target"]),
        "--log-path", str(paths["logs"]),
        "--vars", json.dumps(settings.dbt_vars, sort_keys=True),
    ]
    if not os.environ.get("KIRZ_DBT_VERBOSE"):
        # <home>/dbt/logs/dbt.log keeps one line per node and every error; KIRZ_DBT_VERBOSE=1
        # adds each SQL statement (dbt's debug level: its writing costs about a tenth of a build)
        full_args += ["--quiet", "--log-level-file", "info"]
    started = time.perf_counter()
    with _dbt_environment(settings):
        try:
            outcome = dbtRunner().invoke(full_args)
        finally:
            _release_duckdb()
    elapsed = time.perf_counter() - started
    results = []
    inner = outcome.result
    for res in getattr(inner, "results", None) or []:
        if hasattr(res, "node"):
            results.append(_node_result(res))
    exception = None
    if outcome.exception is not None:
        exception = f"{type(outcome.exception).__name__}: {outcome.exception}"
    return DbtRun(
        args=full_args,
        success=bool(outcome.success),
        results=results,
        exception=exception,
        elapsed_s=elapsed,
    )


def summarise(run: DbtRun) -> TransformResult:
    counts: dict[str, dict[str, int]] = {}
    failures = []
    for r in run.results:
        bucket = _STATUS_BUCKET.get(r.status, r.status)
        per_type = counts.setdefault(r.resource_type, {"pass": 0, "warn": 0, "error": 0, "skip": 0})
        per_type[bucket] = per_type.get(bucket, 0) + 1
        if bucket == "error":
            failures.append(r)
    ok = run.success and not failures and run.exception is None
    if ok:
        total = sum(sum(c.values()) for c in counts.values())
        warns = sum(c.get("warn", 0) for c in counts.values())
        message = f"dbt build ok: {total} nodes, {warns} warnings, {run.elapsed_s:.1f} s"
    elif failures:
        parts = [
            f"{f.resource_type} {f.name} {f.status}"
            + (f" ({f.failures} failing rows)" if f.failures else "")
            + (f": {f.message.strip()}" if f.message else "")
            for f in failures
        ]
        skipped = sum(c.get("skip", 0) for c in counts.values())
        message = (
            f"dbt build failed: {len(failures)} failed"
            + (f", {skipped} skipped" if skipped else "")
            + " -- "
            + "; ".join(parts)
        )
    else:
        message = f"dbt build failed: {run.exception or 'dbt reported failure without node results'}"
    return TransformResult(
        ok=ok,
        message=message,
        counts=counts,
        failures=failures,
        elapsed_s=run.elapsed_s,
        run=run,
    )


def transform(
    settings: Settings,
    full_refresh: bool = False,
    select: str | None = None,
    unit_tests: bool = False,
) -> TransformResult:
    """``dbt build`` of the whole project (or ``select``): seeds, models, snapshots and tests.

    dbt's unit tests check the SQL logic on fixed inputs, not the data: as dbt recommends for
    production builds, they are left out unless ``unit_tests`` is set (``make test`` and
    ``kirz transform --unit-tests`` run them).

    ``TransformResult.ok`` is False when any node errors or any test fails; the message names
    each failing node.
    """
    args = ["build"]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", select]
    if not unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    return summarise(run_dbt(settings, args))

