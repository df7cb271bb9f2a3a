"""Data quality: Great Expectations suites over bounded pandas batches, results in ``audit.dq_*``.

Each guarded table has one suite module, ``expectations/<layer>/<table>.py``, which knows how
to build its batch from the warehouse (``load_frame``: DuckDB SQL, aggregated where a row-level
check is not needed) and its expectations (``build_suite``), each with a severity and a
meaning a funder could read. Period-bound suites are run over chunks of local days and their
outcomes are stored per local day (or per KPI period), so that a later run of the same day
supersedes an earlier one and a failure blocks exactly the periods it touches.

The gate (:func:`pass_gate`) is the one decision every step that lets data out takes (the
publish DAG, ``kirz publish``, ``kirz report``, the demo); an override of a blocked gate is
recorded in ``audit.gate_overrides`` and travels with the snapshot into the reports.

GX's SQL data source does not work on DuckDB as shipped, so batches are pandas frames; GX is
imported lazily (it costs seconds) and one ephemeral context is reused per process.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from kirz.config import DBT_PROJECT_DIR, EXPECTATIONS_DIR, REPO_ROOT, Settings
from kirz.localtime import local_day_bounds
from kirz.warehouse import open_warehouse

if TYPE_CHECKING:  # pragma: no cover
    import great_expectations as gx

LAYERS = ("raw", "marts")
SEVERITIES = ("critical", "warning")
STATUSES = ("passed", "warning", "failed")
# Timestamps later than the delivery of their file by more than this are impossible data.
FUTURE_TOLERANCE_S = 300
# Local days validated per GX run of a period-bound suite (memory stays bounded).
CHUNK_DAYS = 7
MAX_EXAMPLES = 5
# Never shown in unexpected_examples, whatever a suite asks for.
FORBIDDEN_EXAMPLE_COLUMNS = frozenset(
    {"user_pseudonym", "user", "user_name", "partner_name", "job_name", "document"}
)

DQ_DDL = [
    "create schema if not exists audit",
    """
    create table if not exists audit.dq_runs (
        run_id        varchar primary key,
        started_at    timestamptz,
        finished_at   timestamptz,
        layer         varchar,
        batch         varchar,
        period_start  date,
        period_end    date,
        suites        integer,
        expectations  integer,
        passed        integer,
        warnings      integer,
        critical      integer,
        status        varchar,
        html_path     varchar,
        code_version  varchar
    )
    """,
    """
    create table if not exists audit.dq_results (
        run_id               varchar,
        suite                varchar,
        table_name           varchar,
        expectation          varchar,
        expectation_type     varchar,
        severity             varchar,
        meaning              varchar,
        success              boolean,
        observed_value       varchar,
        unexpected_count     bigint,
        unexpected_examples  varchar,
        batch                varchar,
        period_start         date,
        period_end           date,
        accepted             boolean,
        acceptance_reason    varchar
    )
    """,
    """
    create table if not exists audit.dq_acceptances (
        accepted_at   timestamptz,
        suite         varchar,
        expectation   varchar,
        period_start  date,
        period_end    date,
        reason        varchar not null,
        accepted_by   varchar
    )
    """,
    # the last ingest each layer has validated: a run without a window validates what came since
    """
    create table if not exists audit.dq_watermarks (
        layer           varchar primary key,
        last_ingest_id  bigint not null,
        updated_at      timestamptz not null
    )
    """,
    # the mart content last validated, per mart and day (or KPI period): a marts run without a
    # window validates the days whose content changed since
    """
    create table if not exists audit.dq_mart_fingerprints (
        mart         varchar not null,
        key          varchar not null,
        day          date not null,
        fingerprint  varchar not null,
        recorded_at  timestamptz not null,
        primary key (mart, key)
    )
    """,
    # a blocked gate let through on purpose: who, why, over which days, past which failures
    """
    create table if not exists audit.gate_overrides (
        override_id    varchar primary key,
        decided_at     timestamptz not null,
        command        varchar not null,
        period_start   date,
        period_end     date,
        blocking       varchar not null,
        reason         varchar not null,
        overridden_by  varchar not null
    )
    """,
]

RESULT_COLUMNS = (
    "run_id", "suite", "table_name", "expectation", "expectation_type", "severity", "meaning",
    "success", "observed_value", "unexpected_count", "unexpected_examples", "batch",
    "period_start", "period_end", "accepted", "acceptance_reason",
)
RUN_COLUMNS = (
    "run_id", "started_at", "finished_at", "layer", "batch", "period_start", "period_end",
    "suites", "expectations", "passed", "warnings", "critical", "status", "html_path",
    "code_version",
)


def init_dq_schema(con) -> None:
    """Create the audit.dq_* tables when missing (idempotent)."""
    for stmt in DQ_DDL:
        con.execute(stmt)


# ------------------------------------------------------------------------------ data classes


@dataclass
class DqRun:
    """One validation run of a layer; with ``layer=None`` the two layer runs in ``parts``."""

    run_id: str
    layer: str
    status: str
    passed: int
    warnings: int
    critical: int
    results: list[dict]
    html_path: Path | None
    batch: str = ""
    period_start: date | None = None
    period_end: date | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    suites: int = 0
    expectations: int = 0
    code_version: str = ""
    parts: list["DqRun"] = field(default_factory=list)

    @property
    def failed_expectations(self) -> set[tuple[str, str]]:
        return {(r["suite"], r["expectation"]) for r in self.results if not r["success"]}


@dataclass
class GateDecision:
    """May data go out? ``status``: 'open', 'blocked', 'overridden' (blocked, let through by the
    override in ``override``, a row of audit.gate_overrides) or 'empty' (the marts hold no days)."""

    ok: bool
    blocking: list[dict]
    warnings: list[dict]
    accepted: list[dict]
    message: str
    period_start: date | None = None
    period_end: date | None = None
    status: str = ""
    command: str = ""
    override: dict | None = None

    def __post_init__(self):
        if not self.status:
            self.status = "open" if self.ok else "blocked"


class GateBlocked(RuntimeError):
    """A step stopped at the data-quality gate; ``decision`` says why and how to go on."""

    def __init__(self, decision: GateDecision):
        self.decision = decision
        super().__init__(decision.message)


@dataclass(frozen=True)
class FrameScope:
    """What a suite's ``load_frame`` may read: the local days of this chunk and fixed settings.

    The days are also in the temporary table ``dq_days(day, day_start, day_end, hours)`` of
    the connection (UTC bounds of each local day; 23, 24 or 25 hours).
    """

    tz: str
    days: tuple[date, ...] = ()
    design_it_power_kw: float = 3000.0
    future_tolerance_s: int = FUTURE_TOLERANCE_S

    def __post_init__(self):
        if not re.fullmatch(r"[A-Za-z0-9_+\-/]+", self.tz):
            raise ValueError(f"bad time zone name {self.tz!r}")
        ZoneInfo(self.tz)

    def local_day(self, expr: str) -> str:
        """SQL for the local calendar day of a UTC timestamptz expression."""
        return f"cast(timezone('{self.tz}', {expr}) as date)"

    @property
    def first_day(self) -> date:
        return min(self.days)

    @property
    def last_day(self) -> date:
        return max(self.days)

    @property
    def utc_start(self) -> datetime:
        return local_day_bounds(self.first_day, ZoneInfo(self.tz))[0]

    @property
    def utc_end(self) -> datetime:
        return local_day_bounds(self.last_day, ZoneInfo(self.tz))[1]

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        return local_day_bounds(day, ZoneInfo(self.tz))


# ------------------------------------------------------------------------- suite modules


def expectations_dir(settings: Settings | None = None) -> Path:
    """The folder of suite modules: the setting ``expectations_dir`` (``KIRZ_EXPECTATIONS_DIR``),
    else ``expectations/`` of the repository."""
    return Path(settings.expectations_dir) if settings is not None else EXPECTATIONS_DIR


def dbt_setting(con, name: str):
    """A business constant (a dbt var) as the last build used it: from ``ref.settings`` (JSON
    values, published by the settings model, after kirz.toml's overrides), else as declared in
    dbt_project.yml (a warehouse no build has written the settings into). Never a copy in Python."""
    if _table_exists(con, "ref.settings"):
        row = con.execute("select value from ref.settings where setting = ?", [name]).fetchone()
        if row is not None:
            return json.loads(row[0])
    import yaml

    project = DBT_PROJECT_DIR / "dbt_project.yml"
    declared = (yaml.safe_load(project.read_text()) or {}).get("vars") or {}
    if name not in declared:
        raise KeyError(f"dbt var {name!r} is neither in ref.settings nor declared in {project}")
    value = declared[name]
    if isinstance(value, str) and "{{" in value:
        raise ValueError(f"dbt var {name!r} is a Jinja expression in {project}; read it from ref.settings after a build")
    return value


def _load_module(path: Path, layer: str) -> ModuleType:
    name = f"kirz_expectations.{layer}.{path.stem}"
    mod = sys.modules.get(name)
    if mod is not None and getattr(mod, "__file__", None) == str(path):
        return mod
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load suite module {path}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    for attr in ("SUITE", "TABLE", "SEVERITY", "load_frame", "build_suite"):
        if not hasattr(mod, attr):
            raise ImportError(f"suite module {path} lacks {attr}")
    for eid, (sev, meaning) in mod.SEVERITY.items():
        if sev not in SEVERITIES or not meaning:
            raise ImportError(f"{path}: expectation {eid} needs a severity {SEVERITIES} and a meaning")
    return mod


def suite_modules(layer: str | None = None, settings: Settings | None = None) -> list[ModuleType]:
    """The suite modules of a layer (or of both), in a stable order."""
    base = expectations_dir(settings)
    out = []
    for lay in (layer,) if layer else LAYERS:
        if lay not in LAYERS:
            raise ValueError(f"unknown layer {lay!r}; expected one of {', '.join(LAYERS)}")
        folder = base / lay
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.py")):
            if path.name.startswith("_"):
                continue
            out.append(_load_module(path, lay))
    return out


def suite_module(suite: str, settings: Settings | None = None) -> ModuleType:
    for mod in suite_modules(None, settings):
        if mod.SUITE == suite:
            return mod
    known = ", ".join(m.SUITE for m in suite_modules(None, settings))
    raise ValueError(f"unknown suite {suite!r}; known suites: {known}")


def make_suite(name: str, severity: dict, examples: dict, checks: list) -> "gx.ExpectationSuite":
    """An ExpectationSuite from ``(expectation_id, expectation)`` pairs.

    Each expectation's ``meta`` gets its id, severity, meaning and the frame columns shown as
    examples when it fails; every id of ``severity`` must be used exactly once.
    """
    import great_expectations as gx

    ids = [cid for cid, _ in checks]
    if len(ids) != len(set(ids)) or set(ids) != set(severity):
        missing = sorted(set(severity) - set(ids))
        extra = sorted(set(ids) - set(severity))
        raise ValueError(f"suite {name}: ids do not match SEVERITY (missing {missing}, extra {extra})")
    for cid, exp in checks:
        sev, meaning = severity[cid]
        exp.meta = {"id": cid, "severity": sev, "meaning": meaning, "examples": list(examples.get(cid, ()))}
    return gx.ExpectationSuite(name=name, expectations=[exp for _, exp in checks])


# --------------------------------------------------------------------------------- GX glue

_GX: dict = {}


def _batch_definition():
    """One ephemeral GX context per process, with one pandas whole-dataframe batch definition."""
    if "bd" not in _GX:
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        config = DataContextConfig(
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        )
        context = gx.get_context(mode="ephemeral", project_config=config)
        asset = context.data_sources.add_pandas("kirz").add_dataframe_asset("frame")
        _GX["context"] = context
        _GX["bd"] = asset.add_batch_definition_whole_dataframe("whole")
    return _GX["bd"]


def _suite_for(mod: ModuleType):
    key = (mod.__name__, id(mod))
    cache = _GX.setdefault("suites", {})
    if key not in cache:
        cache[key] = mod.build_suite()
    return cache[key]


def _table_exists(con, qualified: str) -> bool:
    schema, _, table = qualified.partition(".")
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()[0][0]
    )


def _register_days(con, scope: FrameScope) -> None:
    import pyarrow as pa

    rows = [(d, *scope.day_bounds(d)) for d in sorted(scope.days)]
    tbl = pa.table(
        {
            "day": pa.array([r[0] for r in rows], pa.date32()),
            "day_start": pa.array([r[1] for r in rows], pa.timestamp("us", tz="UTC")),
            "day_end": pa.array([r[2] for r in rows], pa.timestamp("us", tz="UTC")),
            "hours": pa.array([(r[2] - r[1]).total_seconds() / 3600 for r in rows], pa.float64()),
        }
    )
    con.register("_dq_days_arrow", tbl)
    try:
        con.execute("create or replace temp table dq_days as select * from _dq_days_arrow")
    finally:
        con.unregister("_dq_days_arrow")


def _jsonable(value):
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        import pandas as pd

        if value is pd.NaT:
            return None
        # DuckDB dates arrive as naive midnight timestamps (every real timestamp is UTC-aware)
        if isinstance(value, pd.Timestamp) and value.tzinfo is None and value == value.normalize():
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return round(value, 6)
    if hasattr(value, "item"):  # numpy scalar
        return _jsonable(value.item())
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError, ImportError):
        pass
    return value


def _example_columns(exp_config, frame_columns) -> list[str]:
    cols = list(exp_config.meta.get("examples") or [])
    if not cols:
        kw = exp_config.kwargs
        cols = [c for c in (kw.get("column"), kw.get("column_A"), kw.get("column_B")) if c]
        cols += list(kw.get("column_list") or [])
    return [c for c in cols if c in frame_columns and c not in FORBIDDEN_EXAMPLE_COLUMNS]


def _examples(frame, positions: list, cols: list[str]) -> list[dict]:
    out: list[dict] = []
    seen = set()
    for pos in positions:
        row = {c: _jsonable(frame.at[pos, c]) for c in cols}
        key = json.dumps(row, sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        out.append(row)
        if len(out) >= MAX_EXAMPLES:
            break
    return out


def _observed(result: dict) -> str | None:
    if result.get("observed_value") is not None:
        return str(_jsonable(result["observed_value"]))
    details = {k: _jsonable(v) for k, v in result.items() if k in ("partial_missing_list", "details")}
    return json.dumps(details, default=str) if details else None


def _exception_message(info) -> str | None:
    """The message of an exception GX caught while evaluating an expectation, if any.

    GX reports either one ``{raised_exception, exception_message, ...}`` dict or one such dict
    per metric.
    """
    if not info:
        return None
    if "raised_exception" in info:
        return str(info.get("exception_message") or "exception") if info.get("raised_exception") else None
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message") or "exception")
    return None


def _periods_of(frame) -> list:
    """(period_start, period_end) of each row of a period-bound frame, as dates."""
    import pandas as pd

    starts = pd.to_datetime(frame["period_start"]).dt.date
    ends = pd.to_datetime(frame["period_end"]).dt.date
    return list(zip(starts, ends))


def _error_rows(mod: ModuleType, suite_expectations: list, periods: list, batch: str, message: str) -> list[dict]:
    message = " ".join(message.split())[:400]
    rows = []
    for eid, exp_type in suite_expectations:
        sev, meaning = mod.SEVERITY[eid]
        for ps, pe in periods:
            rows.append(_row(mod, eid, exp_type, sev, meaning, False, message, None, [], batch_label(ps, pe, batch), ps, pe))
    return rows


def _row(mod, eid, exp_type, sev, meaning, success, observed, count, examples, batch, ps, pe) -> dict:
    return {
        "suite": mod.SUITE,
        "table_name": mod.TABLE,
        "expectation": eid,
        "expectation_type": exp_type,
        "severity": sev,
        "meaning": meaning,
        "success": bool(success),
        "observed_value": observed,
        "unexpected_count": None if count is None else int(count),
        "unexpected_examples": json.dumps(examples, default=str, ensure_ascii=False),
        "batch": batch,
        "period_start": ps,
        "period_end": pe,
        "accepted": False,
        "acceptance_reason": None,
    }


def batch_label(ps: date | None, pe: date | None, default: str) -> str:
    if ps is None:
        return default
    return ps.isoformat() if ps == pe else f"{ps.isoformat()}..{pe.isoformat()}"


def _suite_expectations(mod) -> list[tuple[str, str]]:
    """(id, GX class name) of each expectation of a suite module."""
    suite = _suite_for(mod)
    return [(e.meta["id"], type(e).__name__) for e in suite.expectations]


def run_suite(con, mod: ModuleType, scope: FrameScope, batch: str = "") -> list[dict]:
    """Run one suite on one scope (a chunk of days, or the whole table); one row per expectation
    and period, without storing anything."""
    grain = getattr(mod, "GRAIN", None)
    exps = _suite_expectations(mod)
    default_periods = [(d, d) for d in sorted(scope.days)] if grain == "day" else [(None, None)]
    if grain == "period":
        default_periods = [(scope.first_day, scope.last_day)] if scope.days else []
    missing = [t for t in getattr(mod, "REQUIRES", ()) if not _table_exists(con, t)]
    if missing:
        return _error_rows(mod, exps, default_periods, batch, f"not checked: table {', '.join(missing)} does not exist")
    try:
        if scope.days:
            _register_days(con, scope)
        frame = mod.load_frame(con, scope)
    except Exception as exc:  # a broken batch must be visible, not crash the run
        return _error_rows(mod, exps, default_periods, batch, f"not checked: batch could not be built: {exc}")
    frame = frame.reset_index(drop=True)
    suite = _suite_for(mod)
    try:
        gx_result = _batch_definition().get_batch(batch_parameters={"dataframe": frame}).validate(
            suite, result_format={"result_format": "COMPLETE"}
        )
    except Exception as exc:
        return _error_rows(mod, exps, default_periods, batch, f"not checked: GX failed: {exc}")
    by_id = {er.expectation_config.meta.get("id"): er for er in gx_result.results}

    if grain in ("day", "period"):
        row_periods = _periods_of(frame) if len(frame) else []
        if grain == "day":
            periods = default_periods
        else:
            periods = sorted(set(row_periods)) or []
        rows_per_period: dict = {}
        for pos, p in enumerate(row_periods):
            rows_per_period.setdefault(p, []).append(pos)
    else:
        periods, row_periods, rows_per_period = [(None, None)], [], {(None, None): list(range(len(frame)))}

    out = []
    for exp in suite.expectations:
        eid = exp.meta["id"]
        exp_type = type(exp).__name__
        sev, meaning = mod.SEVERITY[eid]
        er = by_id.get(eid)
        if er is None:
            out += [_row(mod, eid, exp_type, sev, meaning, False, "not evaluated by GX", None, [], batch_label(ps, pe, batch), ps, pe) for ps, pe in periods]
            continue
        error = _exception_message(er.exception_info)
        if error is not None:
            msg = " ".join(f"error: {error}".split())[:400]
            out += [_row(mod, eid, exp_type, sev, meaning, False, msg, None, [], batch_label(ps, pe, batch), ps, pe) for ps, pe in periods]
            continue
        res = er.result or {}
        index = res.get("unexpected_index_list")
        cols = _example_columns(er.expectation_config, frame.columns)
        for ps, pe in periods:
            label = batch_label(ps, pe, batch)
            in_period = rows_per_period.get((ps, pe), [])
            if index is not None:
                if grain in ("day", "period"):
                    members = set(in_period)
                    bad = [i for i in index if i in members]
                else:
                    bad = list(index)
                observed = f"{len(bad)} unexpected of {len(in_period)} rows"
                examples = _examples(frame, bad, cols) if bad else []
                out.append(_row(mod, eid, exp_type, sev, meaning, not bad, observed, len(bad), examples, label, ps, pe))
            else:
                count = res.get("unexpected_count")
                out.append(_row(mod, eid, exp_type, sev, meaning, er.success, _observed(res), count, [], label, ps, pe))
    return out


# ------------------------------------------------------------------------------- planning


def _design_kw(con, settings: Settings) -> float:
    if _table_exists(con, "raw.inventory_facility"):
        row = con.execute(
            "select design_it_power_kw from raw.inventory_facility "
            "where design_it_power_kw > 0 order by ingest_id desc, line_no desc limit 1"
        ).fetchall()
        if row:
            return float(row[0][0])
    return float(settings.design_it_power_kw)


def _max_ingest_id(con) -> int:
    from kirz.ingest.source import raw_tables

    parts = ["select max(ingest_id) as m from audit.ingests"] + [
        f"select max(ingest_id) from raw.{t}" for t in raw_tables()
    ]
    row = con.execute("select max(m) from (" + " union all ".join(parts) + ")").fetchall()
    return int(row[0][0] or 0)


def _period_tables() -> dict[str, str]:
    """Raw table -> the SQL instant placing its rows in a local day (the sources' declarations);
    tables without one are checked whole by their suites."""
    from kirz.ingest.source import raw_tables

    return {name: t.period_time for name, t in raw_tables().items() if t.period_time}


def _watermark(con, layer: str) -> int:
    row = con.execute("select last_ingest_id from audit.dq_watermarks where layer = ?", [layer]).fetchall()
    return int(row[0][0]) if row else 0


def _set_watermark(con, layer: str, ingest_id: int) -> None:
    con.execute(
        "insert or replace into audit.dq_watermarks values (?, ?, ?)",
        [layer, ingest_id, datetime.now(timezone.utc)],
    )


def days_touched(con, tz: str, lo: int, hi: int) -> list[date]:
    """Local days holding rows of ingests ``lo..hi`` in the period-bound raw tables (jobs, power
    and GPU samples, meter readings: each table's declared period time)."""
    scope = FrameScope(tz=tz)
    parts = " union all ".join(
        f"select {scope.local_day(expr)} as d from raw.{table} where ingest_id between $lo and $hi"
        for table, expr in _period_tables().items()
    )
    sql = f"""
        select distinct d from ({parts}) where d is not null order by d
    """
    return [r[0] for r in con.execute(sql, {"lo": lo, "hi": hi}).fetchall()]


def data_days(con, tz: str, layer: str) -> tuple[date | None, date | None]:
    """First and last local day holding data of a layer (for an open-ended window)."""
    scope = FrameScope(tz=tz)
    if layer == "raw":
        parts = " union all ".join(
            f"select {scope.local_day(f'min({expr})')} d0, {scope.local_day(f'max({expr})')} d1 from raw.{table}"
            for table, expr in _period_tables().items()
        )
        sql = f"""
            select min(d0), max(d1) from ({parts})
        """
    else:
        parts = []
        if _table_exists(con, "marts.fct_usage_daily"):
            parts.append("select min(day) d0, max(day) d1 from marts.fct_usage_daily")
        if _table_exists(con, "marts.fct_energy_daily"):
            parts.append("select min(day), max(day) from marts.fct_energy_daily")
        if not parts:
            return None, None
        sql = "select min(d0), max(d1) from (" + " union all ".join(parts) + ")"
    row = con.execute(sql).fetchall()[0]
    return row[0], row[1]


def mart_fingerprints(con, tz: str) -> dict[tuple[str, str], tuple[date, str]]:
    """The content of the period-bound marts as (mart, key) -> (local day, fingerprint): one
    entry per day of fct_usage_daily and fct_energy_daily, per local start day of
    fct_job_usage and per KPI period of fct_impact_kpis (dated by the period's first day).
    A fingerprint is the row count and the sum of the rows' hashes: any changed, added or
    removed row changes it. Floating-point values are hashed at 10 significant digits, so that
    a rebuild that adds the same numbers in another order (parallel sums) changes nothing."""
    scope = FrameScope(tz=tz)
    parts = []
    for mart, day_expr in (("fct_usage_daily", "day"), ("fct_energy_daily", "day"),
                           ("fct_job_usage", scope.local_day("start_at"))):
        if _table_exists(con, f"marts.{mart}"):
            parts.append(f"""
                select '{mart}' as mart, cast({day_expr} as varchar) as key, {day_expr} as day,
                       count(*) || ':' || sum({_row_hash(con, mart)}::hugeint) as fingerprint
                from marts.{mart}
                where {day_expr} is not null
                group by all""")
    if _table_exists(con, "marts.fct_impact_kpis"):
        parts.append(r"""
            select 'fct_impact_kpis' as mart, key, day, fingerprint from (
                select period_type || '|' || cast(period as varchar) as key,
                       case
                           when period_type = 'month' and regexp_full_match(cast(period as varchar), '\d{4}-\d{2}')
                               then cast(cast(period as varchar) || '-01' as date)
                           when period_type = 'quarter' and regexp_full_match(cast(period as varchar), '\d{4}-?Q[1-4]')
                               then make_date(cast(left(cast(period as varchar), 4) as integer),
                                              3 * cast(right(cast(period as varchar), 1) as integer) - 2, 1)
                           when period_type = 'year' and regexp_full_match(cast(period as varchar), '\d{4}')
                               then make_date(cast(cast(period as varchar) as integer), 1, 1)
                       end as day,
                       count(*) || ':' || sum(ROW_HASH::hugeint) as fingerprint
                from marts.fct_impact_kpis
                group by all
            ) where day is not null""".replace("ROW_HASH", _row_hash(con, "fct_impact_kpis")))
    if not parts:
        return {}
    rows = con.execute(" union all ".join(parts)).fetchall()
    return {(mart, key): (day, fp) for mart, key, day, fp in rows}


def _row_hash(con, mart: str) -> str:
    """hash() over every column of a mart, doubles rounded to 10 significant digits."""
    cols = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'marts' and table_name = ? order by ordinal_position", [mart]).fetchall()
    exprs = []
    for name, kind in cols:
        col = f'"{name}"'
        if kind in ("DOUBLE", "FLOAT", "REAL"):
            col = (f"case when {col} = 0 or not isfinite({col}) then {col} "
                   f"else round({col}, 9 - cast(floor(log10(abs({col}))) as integer)) end")
        exprs.append(col)
    return f"hash({', '.join(exprs)})"


def changed_mart_days(con, tz: str, current: dict | None = None) -> list[date]:
    """Local days whose mart content differs from what the last marts run without a window
    validated (every day on the first such run)."""
    import bisect

    init_dq_schema(con)
    current = mart_fingerprints(con, tz) if current is None else current
    stored = {(m, k): fp for m, k, fp in con.execute(
        "select mart, key, fingerprint from audit.dq_mart_fingerprints").fetchall()}
    data_days = sorted({day for (mart, _), (day, _) in current.items() if mart != "fct_impact_kpis"})
    changed = set()
    for (mart, key), (day, fp) in current.items():
        if stored.get((mart, key)) == fp:
            continue
        if mart != "fct_impact_kpis":
            changed.add(day)
            continue
        # a KPI period stands for its first day holding data: validating it covers the period
        i = bisect.bisect_left(data_days, day)
        if i < len(data_days):
            changed.add(data_days[i])
    return sorted(changed)


def _store_mart_fingerprints(con, current: dict) -> None:
    con.execute("delete from audit.dq_mart_fingerprints")
    if current:
        now = datetime.now(timezone.utc)
        con.executemany(
            "insert into audit.dq_mart_fingerprints values (?, ?, ?, ?, ?)",
            [[mart, key, day, fp, now] for (mart, key), (day, fp) in current.items()],
        )


@dataclass
class _Plan:
    batch: str
    days: list[date]
    ingest_hi: int | None  # move the watermark here after the run
    fingerprints: dict | None = None  # store these as validated after the run


def _plan(con, settings: Settings, layer: str, since: date | None, until: date | None) -> _Plan:
    if since is None and until is None and layer == "marts":
        current = mart_fingerprints(con, settings.timezone)
        days = changed_mart_days(con, settings.timezone, current)
        unit = "day" if len(days) == 1 else "days"
        batch = f"changed:{days[0].isoformat()}..{days[-1].isoformat()} ({len(days)} {unit})" if days else "changed:none"
        return _Plan(batch=batch, days=days, ingest_hi=None, fingerprints=current)
    if since is None and until is None:
        lo = _watermark(con, layer) + 1
        hi = _max_ingest_id(con)
        if hi < lo:
            return _Plan(batch="ingest:none", days=[], ingest_hi=None)
        return _Plan(batch=f"ingest:{lo}-{hi}", days=days_touched(con, settings.timezone, lo, hi), ingest_hi=hi)
    if since is None:
        since = until
    if until is None:
        until = max(since, data_days(con, settings.timezone, layer)[1] or since)
    if until < since:
        raise ValueError(f"until {until} is before since {since}")
    days = [since + timedelta(days=i) for i in range((until - since).days + 1)]
    return _Plan(batch=f"{since.isoformat()}..{until.isoformat()}", days=days, ingest_hi=None)


def _chunks(days: list[date], size: int) -> list[tuple[date, ...]]:
    days = sorted(days)
    return [tuple(days[i : i + size]) for i in range(0, len(days), size)]


# ------------------------------------------------------------------------------ running


def _code_version() -> str:
    if "code_version" not in _GX:
        from kirz import __version__

        version = __version__
        root = REPO_ROOT
        if (root / ".git").exists():
            try:
                sha = subprocess.run(
                    ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                    capture_output=True, text=True, timeout=5, check=True,
                ).stdout.strip()
                if sha:
                    version = f"{version}+g{sha}"
            except (OSError, subprocess.SubprocessError):
                pass
        _GX["code_version"] = version
    return _GX["code_version"]


def _new_run_id(layer: str, started: datetime) -> str:
    return f"dq-{started.strftime('%Y%m%dT%H%M%SZ')}-{layer}-{secrets.token_hex(3)}"


def _acceptances(con) -> list[dict]:
    if not _table_exists(con, "audit.dq_acceptances"):
        return []
    cur = con.execute(
        "select suite, expectation, period_start, period_end, reason, accepted_by, accepted_at "
        "from audit.dq_acceptances order by accepted_at"
    )
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def _covering(acc: dict, row: dict) -> bool:
    if acc["suite"] != row["suite"] or acc["expectation"] != row["expectation"]:
        return False
    if row["period_start"] is None:
        return True
    return acc["period_start"] <= row["period_start"] and row["period_end"] <= acc["period_end"]


def _mark_accepted(rows: list[dict], acceptances: list[dict]) -> None:
    for row in rows:
        for acc in acceptances:
            if _covering(acc, row):
                row["accepted"] = True
                row["acceptance_reason"] = acc["reason"]


def _counts(rows: list[dict]) -> tuple[int, int, int, str]:
    passed = sum(1 for r in rows if r["success"])
    critical = sum(1 for r in rows if not r["success"] and r["severity"] == "critical" and not r["accepted"])
    warnings = sum(1 for r in rows if not r["success"]) - critical
    status = "failed" if critical else ("warning" if warnings else "passed")
    return passed, warnings, critical, status


def _store_run(con, run: DqRun) -> None:
    import pyarrow as pa

    con.execute(
        f"insert into audit.dq_runs ({', '.join(RUN_COLUMNS)}) values ({', '.join('?' * len(RUN_COLUMNS))})",
        [
            run.run_id, run.started_at, run.finished_at, run.layer, run.batch, run.period_start,
            run.period_end, run.suites, run.expectations, run.passed, run.warnings, run.critical,
            run.status, str(run.html_path) if run.html_path else None, run.code_version,
        ],
    )
    if not run.results:
        return
    cols = {c: [r.get(c) if c != "run_id" else run.run_id for r in run.results] for c in RESULT_COLUMNS}
    types = {
        "success": pa.bool_(), "accepted": pa.bool_(), "unexpected_count": pa.int64(),
        "period_start": pa.date32(), "period_end": pa.date32(),
    }
    tbl = pa.table({c: pa.array(v, types.get(c, pa.string())) for c, v in cols.items()})
    con.register("_dq_results_arrow", tbl)
    try:
        con.execute(f"insert into audit.dq_results ({', '.join(RESULT_COLUMNS)}) select * from _dq_results_arrow")
    finally:
        con.unregister("_dq_results_arrow")


def _validate_layer(con, settings: Settings, layer: str, since, until, chunk_days: int) -> DqRun:
    started = datetime.now(timezone.utc)
    run_id = _new_run_id(layer, started)
    plan = _plan(con, settings, layer, since, until)
    mods = suite_modules(layer, settings)
    design_kw = _design_kw(con, settings)
    rows: list[dict] = []
    suites_run = 0
    for mod in mods:
        grain = getattr(mod, "GRAIN", None)
        if grain is None:
            scopes = [FrameScope(tz=settings.timezone, design_it_power_kw=design_kw)]
        elif not plan.days:
            continue
        elif grain == "period":
            scopes = [FrameScope(tz=settings.timezone, days=tuple(sorted(plan.days)), design_it_power_kw=design_kw)]
        else:
            size = getattr(mod, "CHUNK_DAYS", chunk_days) or chunk_days
            scopes = [
                FrameScope(tz=settings.timezone, days=chunk, design_it_power_kw=design_kw)
                for chunk in _chunks(plan.days, size)
            ]
        suites_run += 1
        for scope in scopes:
            rows.extend(run_suite(con, mod, scope, batch=plan.batch))
    _mark_accepted(rows, _acceptances(con))
    passed, warnings, critical, status = _counts(rows)
    finished = datetime.now(timezone.utc)
    run = DqRun(
        run_id=run_id, layer=layer, status=status, passed=passed, warnings=warnings, critical=critical,
        results=rows, html_path=settings.home / "dq" / f"{run_id}.html", batch=plan.batch,
        period_start=min(plan.days) if plan.days else None, period_end=max(plan.days) if plan.days else None,
        started_at=started, finished_at=finished, suites=suites_run, expectations=len(rows),
        code_version=_code_version(),
    )
    con.execute("begin transaction")
    try:
        _store_run(con, run)
        if plan.ingest_hi is not None:
            _set_watermark(con, layer, plan.ingest_hi)
        if plan.fingerprints is not None:
            _store_mart_fingerprints(con, plan.fingerprints)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return run


def validate(
    settings: Settings,
    layer: str | None = None,
    since: date | None = None,
    until: date | None = None,
    con=None,
    chunk_days: int = CHUNK_DAYS,
) -> DqRun:
    """Run the suites of a layer (both when ``layer`` is None) and record the run.

    The window is the local days ``since..until`` (inclusive; ``until`` alone is one day,
    ``since`` alone runs to the last day holding data); without either, for the raw layer the
    days touched by the ingests it has not validated yet (batch ``ingest:<first>-<last>``),
    for the marts the days whose content changed since the last such run (batch
    ``changed:...``: a rebuild may restate days no new file touched, an amended contract or
    late samples); the first such run covers the whole history. Tables that are not period-bound
    (inventory, contracts) are validated whole every time. Findings never raise: they are
    stored in ``audit.dq_runs``/``audit.dq_results`` and rendered to
    ``<home>/dq/<run_id>.html`` and ``<home>/dq/latest.html``.
    """
    from kirz.dq_render import render_run

    if layer is not None and layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; expected one of {', '.join(LAYERS)} (or none for both)")
    if con is None:
        with open_warehouse(settings.warehouse_path) as own:
            return validate(settings, layer, since, until, con=own, chunk_days=chunk_days)
    init_dq_schema(con)
    layers = [layer] if layer else list(LAYERS)
    runs = [_validate_layer(con, settings, lay, since, until, chunk_days) for lay in layers]
    for run in runs:
        render_run(settings, run)
    if len(runs) == 1:
        return runs[0]
    rows = [r for run in runs for r in run.results]
    passed, warnings, critical, status = _counts(rows)
    started = runs[0].started_at
    combined = DqRun(
        run_id=_new_run_id("all", started), layer="all", status=status, passed=passed,
        warnings=warnings, critical=critical, results=rows, html_path=None,
        batch=" + ".join(r.batch for r in runs),
        period_start=min((r.period_start for r in runs if r.period_start), default=None),
        period_end=max((r.period_end for r in runs if r.period_end), default=None),
        started_at=started, finished_at=runs[-1].finished_at,
        suites=sum(r.suites for r in runs), expectations=len(rows), code_version=runs[0].code_version,
        parts=runs,
    )
    combined.html_path = settings.home / "dq" / f"{combined.run_id}.html"
    render_run(settings, combined)
    return combined


# ----------------------------------------------------------------------------- the gate

_LATEST_SQL = """
    with scoped as (
        select r.*, u.started_at, u.layer
        from audit.dq_results r join audit.dq_runs u using (run_id)
        where r.period_start is null or (r.period_start <= $pe and r.period_end >= $ps)
    ),
    ranked as (
        select *, row_number() over (
            partition by suite, expectation, period_start, period_end
            order by started_at desc, run_id desc
        ) as rn
        from scoped
    )
    select * exclude (rn) from ranked where rn = 1
    order by suite, expectation, period_start nulls first
"""


def latest_results(con, period_start: date, period_end: date) -> list[dict]:
    """The latest result of every expectation for every day (or KPI period, or whole table)
    overlapping the period; acceptance evaluated against the period. Reads only: ``con`` may
    be read-only (the published snapshot)."""
    if not (_table_exists(con, "audit.dq_results") and _table_exists(con, "audit.dq_runs")):
        return []
    cur = con.execute(_LATEST_SQL, {"ps": period_start, "pe": period_end})
    cols = [d[0] for d in cur.description]
    rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    accs = _acceptances(con)
    for row in rows:
        row["accepted"] = False
        row["acceptance_reason"] = None
        for acc in accs:
            if acc["suite"] != row["suite"] or acc["expectation"] != row["expectation"]:
                continue
            # a result not bound to a period is accepted for the periods the acceptance covers
            lo, hi = (row["period_start"], row["period_end"]) if row["period_start"] else (period_start, period_end)
            if acc["period_start"] <= lo and hi <= acc["period_end"]:
                row["accepted"] = True
                row["acceptance_reason"] = acc["reason"]
    return rows


def _describe(r: dict) -> str:
    where = f"on {batch_label(r['period_start'], r['period_end'], 'all data')}"
    examples = ""
    try:
        ex = json.loads(r.get("unexpected_examples") or "[]")
    except ValueError:
        ex = []
    if ex:
        examples = f"; e.g. {json.dumps(ex[0], ensure_ascii=False, default=str)}"
    return (
        f"{r['suite']} / {r['expectation']} {where}: {r['meaning']} "
        f"[{r.get('observed_value') or 'failed'}{examples}; run {r['run_id']}]"
    )


# what each gated step does with the data, for the gate's messages
GATE_COMMANDS = {"publish": "publishing", "report": "reporting on"}


def gate(con, period_start: date, period_end: date, command: str = "publish") -> GateDecision:
    """May the period go out? Blocked by any critical failure not accepted in the latest
    results of the period (and when no validation covers the period at all)."""
    rows = latest_results(con, period_start, period_end)
    failed = [r for r in rows if not r["success"]]
    blocking = [r for r in failed if r["severity"] == "critical" and not r["accepted"]]
    accepted = [r for r in failed if r["accepted"]]
    warnings = [r for r in failed if r["severity"] != "critical" and not r["accepted"]]
    span = f"{period_start.isoformat()}..{period_end.isoformat()}"
    doing = GATE_COMMANDS[command]
    if not rows:
        message = (
            f"{doing} {span} is blocked: no data-quality results cover this period; "
            f"run `kirz validate --since {period_start} --until {period_end}` first"
        )
        return GateDecision(False, [], [], [], message, period_start, period_end, command=command)
    if blocking:
        lines = "\n".join(f"  - {_describe(r)}" for r in blocking)
        message = (
            f"{doing} {span} is blocked by {len(blocking)} critical data-quality failure(s) "
            f"that nobody accepted:\n{lines}\n"
            "Fix the data and validate again, or record an acceptance with a reason "
            "(kirz dq accept SUITE EXPECTATION --from .. --to .. --reason ..)."
        )
        return GateDecision(False, blocking, warnings, accepted, message, period_start, period_end, command=command)
    message = (
        f"{doing} {span} may go ahead: {sum(1 for r in rows if r['success'])} of {len(rows)} "
        f"checks passed, {len(warnings)} warning(s), {len(accepted)} accepted failure(s)"
    )
    return GateDecision(True, [], warnings, accepted, message, period_start, period_end, command=command)


def check_override_args(force: bool, reason: str | None, by: str | None) -> None:
    """An override needs all three: ``force``, a ``reason`` and who decides (``by``)."""
    has_reason, has_by = bool(reason and reason.strip()), bool(by and by.strip())
    if force and not (has_reason and has_by):
        raise ValueError("--force needs --reason TEXT and --by NAME: an override is recorded with why and by whom")
    if (reason is not None or by is not None) and not force:
        raise ValueError("--reason and --by belong to --force (overriding a blocked data-quality gate)")


def _blocking_text(decision: GateDecision) -> str:
    """The failures a blocked gate names, one line each (what an override is recorded against)."""
    if decision.blocking:
        return "\n".join(_describe(r) for r in decision.blocking)
    return f"no data-quality results cover {decision.period_start}..{decision.period_end}"


def _override_in_force(con, decision: GateDecision, blocking: str) -> dict | None:
    """The latest override recorded for exactly these blocking results over exactly these days."""
    if not _table_exists(con, "audit.gate_overrides"):
        return None
    cur = con.execute(
        "select * from audit.gate_overrides where period_start = ? and period_end = ? and blocking = ? "
        "order by decided_at desc, override_id desc limit 1",
        [decision.period_start, decision.period_end, blocking],
    )
    cols = [d[0] for d in cur.description]
    row = cur.fetchone()
    return dict(zip(cols, row)) if row else None


def _record_override(con, decision: GateDecision, blocking: str, reason: str, by: str) -> dict:
    now = datetime.now(timezone.utc)
    override = {
        "override_id": f"gate-{now.strftime('%Y%m%dT%H%M%SZ')}-{decision.command}-{secrets.token_hex(3)}",
        "decided_at": now,
        "command": decision.command,
        "period_start": decision.period_start,
        "period_end": decision.period_end,
        "blocking": blocking,
        "reason": reason.strip(),
        "overridden_by": by.strip(),
    }
    init_dq_schema(con)
    con.execute(
        f"insert into audit.gate_overrides ({', '.join(override)}) values ({', '.join('?' * len(override))})",
        list(override.values()),
    )
    return override


def _overridden(decision: GateDecision, override: dict) -> GateDecision:
    decision.ok = True
    decision.status = "overridden"
    decision.override = override
    decision.message = (
        f"{GATE_COMMANDS[decision.command]} {decision.period_start}..{decision.period_end} goes ahead under "
        f"override {override['override_id']} by {override['overridden_by']} "
        f"({override['decided_at'].astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC): {override['reason']}\n"
        f"It lets through:\n" + "\n".join(f"  - {line}" for line in override["blocking"].splitlines())
    )
    return decision


def pass_gate(
    con,
    tz: str,
    command: str,
    *,
    force: bool = False,
    reason: str | None = None,
    by: str | None = None,
    record_in: Path | str | None = None,
) -> GateDecision:
    """The data-quality gate that every step letting data out passes: the publish DAG,
    ``kirz publish``, ``kirz report`` and the demo (``command``: 'publish' or 'report').

    Decides over the local days the marts of ``con`` hold (:func:`gate`): blocked by a critical
    failure nobody accepted, or when no validation covers those days. Blocked and forced
    (``force`` with a ``reason`` and ``by``: all three or none), the override is recorded in
    ``audit.gate_overrides`` (in ``record_in``, the live warehouse, when ``con`` reads a
    read-only copy such as the published snapshot) and the step may go on: status
    'overridden'. An override covers exactly the blocking results and days it was recorded
    for: a step meeting them again (the reports rendered from a snapshot published under it,
    a re-run) goes on under it; a new finding or another day needs a new decision. A forced
    step at an open gate records nothing. The caller acts on ``ok`` (see :class:`GateBlocked`).
    """
    if command not in GATE_COMMANDS:
        raise ValueError(f"unknown gated command {command!r}; expected one of {', '.join(GATE_COMMANDS)}")
    check_override_args(force, reason, by)
    first, last = data_days(con, tz, "marts")
    if first is None:
        message = f"nothing to {command}: the marts hold no days yet; run `kirz transform` first"
        return GateDecision(False, [], [], [], message, status="empty", command=command)
    decision = gate(con, first, last, command)
    if decision.ok:
        return decision
    blocking = _blocking_text(decision)
    if force:
        if record_in is None:
            override = _record_override(con, decision, blocking, reason, by)
        else:
            with open_warehouse(record_in) as live:
                override = _record_override(live, decision, blocking, reason, by)
        return _overridden(decision, override)
    earlier = _override_in_force(con, decision, blocking)
    if earlier is not None:
        return _overridden(decision, earlier)
    decision.message += (
        f"\nTo {command} anyway: kirz {command} ... --force --reason TEXT --by NAME "
        "(recorded in audit.gate_overrides and printed in every report rendered under it)."
    )
    return decision


def accept(
    settings: Settings,
    suite: str,
    expectation: str,
    period_start: date,
    period_end: date,
    reason: str,
    accepted_by: str,
    con=None,
) -> None:
    """Record that a failure of ``suite``/``expectation`` in the period is known and accepted.

    An accepted critical failure no longer blocks the gate; it is listed with its reason in
    ``dq_summary`` and on the report's data-quality appendix.
    """
    if not reason or not reason.strip():
        raise ValueError("an acceptance needs a reason")
    if not accepted_by or not accepted_by.strip():
        raise ValueError("an acceptance needs the name of who accepts it")
    if period_end < period_start:
        raise ValueError(f"period end {period_end} is before its start {period_start}")
    mod = suite_module(suite, settings)
    if expectation not in mod.SEVERITY:
        raise ValueError(
            f"suite {suite} has no expectation {expectation!r}; it has: {', '.join(sorted(mod.SEVERITY))}"
        )
    if con is None:
        with open_warehouse(settings.warehouse_path) as own:
            return accept(settings, suite, expectation, period_start, period_end, reason, accepted_by, con=own)
    init_dq_schema(con)
    con.execute("begin transaction")
    try:
        con.execute(
            "insert into audit.dq_acceptances values (?, ?, ?, ?, ?, ?, ?)",
            [datetime.now(timezone.utc), suite, expectation, period_start, period_end, reason.strip(), accepted_by.strip()],
        )
        con.execute(
            """
            update audit.dq_results set accepted = true, acceptance_reason = ?
            where suite = ? and expectation = ?
              and (period_start is null or (period_start >= ? and period_end <= ?))
            """,
            [reason.strip(), suite, expectation, period_start, period_end],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def dq_summary(con, period_start: date, period_end: date) -> dict:
    """For report appendices: per suite and expectation the latest outcome in the period, counts
    by severity, the runs it comes from, and the acceptances covering the period.

    An expectation's outcome is 'failed' when any of its latest results in the period failed
    without an acceptance, 'accepted' when all its failures are accepted, else 'passed'.
    """
    rows = latest_results(con, period_start, period_end)
    decision = gate(con, period_start, period_end)
    grouped: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        grouped.setdefault((r["suite"], r["expectation"]), []).append(r)
    counts = {sev: {"checks": 0, "passed": 0, "failed": 0, "accepted": 0} for sev in SEVERITIES}
    suites: dict[str, dict] = {}
    for (suite, eid), results in sorted(grouped.items()):
        first = results[0]
        failures = [r for r in results if not r["success"]]
        unaccepted = [r for r in failures if not r["accepted"]]
        outcome = "failed" if unaccepted else ("accepted" if failures else "passed")
        shown = (unaccepted or failures or results)[0]
        entry = {
            "expectation": eid,
            "expectation_type": first["expectation_type"],
            "severity": first["severity"],
            "meaning": first["meaning"],
            "outcome": outcome,
            "periods_checked": len(results),
            "periods_failed": len(failures),
            "failed_periods": [batch_label(r["period_start"], r["period_end"], "all data") for r in failures],
            "unexpected_count": sum(int(r["unexpected_count"] or 0) for r in failures),
            "observed_value": shown["observed_value"] if failures else None,
            "unexpected_examples": json.loads(shown["unexpected_examples"] or "[]") if failures else [],
            "acceptance_reason": next((r["acceptance_reason"] for r in failures if r["accepted"]), None),
            "run_ids": sorted({r["run_id"] for r in results}),
        }
        counts[entry["severity"]]["checks"] += 1
        counts[entry["severity"]][outcome] += 1
        suites.setdefault(suite, {"suite": suite, "table_name": first["table_name"], "expectations": []})
        suites[suite]["expectations"].append(entry)
    run_ids = sorted({r["run_id"] for r in rows})
    runs = []
    if run_ids:
        cur = con.execute(
            "select run_id, layer, started_at, finished_at, status, batch, code_version, html_path "
            "from audit.dq_runs where list_contains(?, run_id) order by started_at",
            [run_ids],
        )
        cols = [d[0] for d in cur.description]
        runs = [dict(zip(cols, r)) for r in cur.fetchall()]
    acceptances = [
        a for a in _acceptances(con) if a["period_start"] <= period_end and a["period_end"] >= period_start
    ]
    if not rows:
        status = "not_validated"
    elif counts["critical"]["failed"]:
        status = "failed"
    elif any(counts[sev]["failed"] or counts[sev]["accepted"] for sev in SEVERITIES):
        status = "warning"
    else:
        status = "passed"
    return {
        "period_start": period_start,
        "period_end": period_end,
        "status": status,
        "gate_ok": decision.ok,
        "message": decision.message,
        "counts": counts,
        "suites": [suites[name] for name in sorted(suites)],
        "runs": runs,
        "acceptances": acceptances,
    }
