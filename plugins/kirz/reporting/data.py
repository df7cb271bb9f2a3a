"""Report data from the marts, with scope and confidentiality enforced here, before rendering.

Every builder returns a plain dict tree of :class:`~kirz.reporting.model.Q` (quantities),
:class:`~kirz.reporting.model.L` (labels to translate), dates and strings, plus a list of
:class:`~kirz.reporting.model.Figure` under ``"figures"``. Rules applied here, so that no
template can get them wrong:

- Scope: a funder report reads only the contracts its recipient's scope covers; figures about
  the whole centre (energy, capacity, state-aid share, courses) are labelled as such and
  carry no contract detail.
- Confidential partners are never named: they appear as aggregates ("3 SMEs, confidential");
  a partner whose confidential flag is missing or null counts as confidential.
- Groups of fewer than three partners or users are suppressed or merged (see
  :func:`group_partner_rows` and :func:`~kirz.reporting.model.count_q`).
- User pseudonyms are never read into report data except for counting inside SQL.

Columns not in the DESIGN list are read when present (``compute_value_eur``, ``subsidy_eur``
on ``fct_usage_daily``; ``energy_quality`` on ``fct_job_usage``; ``valid_from``, ``valid_to``,
``jobs_created``, ``trainees`` on ``dim_contract``) and the sections that need them say
"not available" otherwise.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from kirz.reporting.model import (
    MIN_GROUP, Figure, L, Period, Q, count_q, pct_change, share,
)
from kirz.reporting.recipients import Recipient, Scope

AREAS = ("methods_research", "cooperation", "education", "operations", "unassigned")
COMPANY_TYPES = ("sme", "large_enterprise", "startup")
STATE_AID_LIMIT_PCT = 20.0
DEMINIMIS_CEILING_EUR = 300_000.0
WARN_AT = 0.8  # flag at 80 % of a limit

USAGE_SUMS = ("gpu_hours", "cpu_core_hours", "jobs_started", "it_energy_kwh", "facility_energy_kwh",
              "co2e_kg", "cost_eur")
OPTIONAL_USAGE_SUMS = ("compute_value_eur", "subsidy_eur")

PSEUDONYM_RE = re.compile(r"\bu_[0-9a-f]{8,}\b")


# ---------------------------------------------------------------------------- connection, helpers

def open_readonly(db_path: Path | str) -> duckdb.DuckDBPyConnection:
    """A read-only connection to a warehouse file (the published snapshot or the live one)."""
    path = Path(db_path)
    if not path.exists():
        raise FileNotFoundError(f"no warehouse at {path}")
    con = duckdb.connect(str(path), read_only=True)
    con.execute("set TimeZone = 'UTC'")
    return con


def columns(con, schema: str, table: str) -> set[str]:
    rows = con.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()
    return {r[0] for r in rows}


def has_table(con, schema: str, table: str) -> bool:
    return bool(columns(con, schema, table))


def rows(con, sql: str, params=None) -> list[dict]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _num(x) -> float:
    return float(x) if x is not None else 0.0


def scrub(text, secrets: list[str]) -> str:
    """Remove user pseudonyms and confidential names from free text (e.g. DQ observed values)."""
    if text is None:
        return ""
    out = PSEUDONYM_RE.sub("u_…", str(text))
    for s in secrets:
        if s:
            out = re.sub(re.escape(s), "[confidential]", out, flags=re.IGNORECASE)
    return out


# ---------------------------------------------------------------------------- contracts and partners

def catalogue(con) -> list[dict]:
    """Current contracts with their partner: one dict per contract (see module doc for columns)."""
    c_cols = columns(con, "marts", "dim_contract")
    p_cols = columns(con, "marts", "dim_partner")
    if not c_cols:
        return []
    sel = ["c.contract_id", "c.partner_id", "c.usage_area"]
    sel.append("c.funders" if "funders" in c_cols else ("p.funders" if "funders" in p_cols else "[]::varchar[]") + " as funders")
    for col, default in (("valid_from", "null::date"), ("valid_to", "null::date"),
                         ("gpu_hours_allocated", "null::double"), ("price_eur_per_gpu_hour", "null::double"),
                         ("jobs_created", "null::integer"), ("trainees", "null::integer")):
        sel.append(f"c.{col}" if col in c_cols else f"{default} as {col}")
    def pick(p_col: str | None, c_col: str | None, alias: str, default: str = "null") -> str:
        opts = ([f"p.{p_col}"] if p_col and p_col in p_cols else []) + ([f"c.{c_col}"] if c_col and c_col in c_cols else [])
        return f"coalesce({', '.join(opts)}) as {alias}" if opts else f"{default} as {alias}"

    # a partner is confidential when either dimension says so, or when neither says anything
    flags = [f"p.{col}" for col in ("is_confidential", "confidential") if col in p_cols]
    flags += [f"c.{col}" for col in ("is_partner_confidential", "partner_confidential") if col in c_cols]
    conf = " or ".join(f"coalesce({f}, true)" for f in flags) if flags else "true"
    sel += [
        pick("partner_name", "partner_name", "partner_name"),
        pick("partner_type", "partner_type", "partner_type"),
        pick("nuts3", "partner_nuts3", "nuts3"),
        pick("region_name", None, "region_name"),
        pick("is_revier", "is_revier", "is_revier"),
        pick("first_usage_day", None, "first_usage_day", "null::date"),
        f"({conf}) as confidential",
    ]
    join = "left join marts.dim_partner p on p.partner_id = c.partner_id" if p_cols else ""
    out = rows(con, f"select {', '.join(sel)} from marts.dim_contract c {join} order by c.contract_id")
    for r in out:
        r["funders"] = list(r["funders"] or [])
        r["confidential"] = bool(r["confidential"]) if r["confidential"] is not None else True
        r["is_revier"] = bool(r["is_revier"])
    return out


def partners_of(contracts: list[dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for c in contracts:
        out.setdefault(c["partner_id"], {k: c.get(k) for k in ("partner_id", "partner_name", "partner_type", "nuts3",
                                                                  "region_name", "is_revier", "confidential",
                                                                  "first_usage_day")})
    return out


def in_scope(catalogue_rows: list[dict], scope: Scope) -> list[dict]:
    return [c for c in catalogue_rows if scope.covers(c["contract_id"], c["funders"], c["usage_area"])]


def confidential_names(catalogue_rows: list[dict]) -> list[str]:
    return sorted({c["partner_name"] for c in catalogue_rows if c["confidential"] and c["partner_name"]})


def active_in(c: dict, period: Period) -> bool:
    """A contract is active in a period when its validity overlaps it (unknown bounds: open)."""
    vf, vt = c.get("valid_from"), c.get("valid_to")
    return (vf is None or vf <= period.end) and (vt is None or vt >= period.start)


def partner_label(p: dict):
    """The partner's name, or a label for a confidential partner (never its name)."""
    if p["confidential"] or not p.get("partner_name"):
        return L("confidential_partner", p.get("partner_type") or "unknown")
    return p["partner_name"]


def group_partner_rows(rows_in: list[dict], value_keys: tuple[str, ...], sort_key: str) -> tuple[list[dict], dict | None]:
    """Named rows stay; confidential partners' rows are merged into one aggregate.

    The aggregate must cover at least MIN_GROUP distinct partners: if the confidential ones are
    fewer, the smallest named rows (by ``sort_key``) are merged into it until it does; if the
    whole table has fewer partners than that, the aggregate's values are suppressed.
    Each row has ``partner_id``, ``confidential``, ``partner_type`` and the value keys (floats).
    """
    named = [r for r in rows_in if not r["confidential"]]
    conf = [r for r in rows_in if r["confidential"]]
    if not conf:
        return sorted(named, key=lambda r: r.get("order", "")), None
    group = list(conf)
    named.sort(key=lambda r: (r[sort_key] or 0.0, r.get("order", "")))

    def n_partners(rs):
        return len({r["partner_id"] for r in rs})

    while n_partners(group) < MIN_GROUP and named:
        group.append(named.pop(0))
    types = sorted({r["partner_type"] or "unknown" for r in group if r["confidential"]})
    agg = {
        "partners": n_partners(group),
        "confidential_partners": n_partners([r for r in group if r["confidential"]]),
        "merged_named": n_partners([r for r in group if not r["confidential"]]),
        "types": [L("partner_types_plural", t) for t in types],
        "suppressed": n_partners(group) < MIN_GROUP,
    }
    for k in value_keys:
        agg[k] = sum(_num(r[k]) for r in group)
    return sorted(named, key=lambda r: r.get("order", "")), agg


# ---------------------------------------------------------------------------- mart readers

def usage_by_contract(con, ids: list[str], start: date, end: date) -> dict[str, dict]:
    """Sums of fct_usage_daily per contract over local days [start, end]."""
    cols = columns(con, "marts", "fct_usage_daily")
    if not cols or not ids:
        return {}
    sums = [k for k in USAGE_SUMS + OPTIONAL_USAGE_SUMS if k in cols]
    sel = ", ".join(f"sum({k}) as {k}" for k in sums)
    out = rows(
        con,
        f"select contract_id, {sel} from marts.fct_usage_daily "
        "where list_contains(?::varchar[], contract_id) and day between ? and ? group by contract_id",
        [ids, start, end],
    )
    return {r["contract_id"]: r for r in out}


def usage_sum(by_contract: dict[str, dict], key: str, ids=None) -> float | None:
    vals = [r.get(key) for cid, r in by_contract.items() if ids is None or cid in ids]
    if vals and all(v is None for v in vals) and key in OPTIONAL_USAGE_SUMS:
        return None
    return sum(_num(v) for v in vals)


def has_usage_column(con, key: str) -> bool:
    return key in columns(con, "marts", "fct_usage_daily")


def user_counts(con, ids: list[str], edu_ids: list[str], period: Period, tz: ZoneInfo) -> tuple[int, int]:
    """Distinct users with a job overlapping the period, all and in education contracts."""
    if not ids or not has_table(con, "marts", "fct_job_usage"):
        return 0, 0
    start, end = period.utc_bounds(tz)
    r = con.execute(
        "select count(distinct user_pseudonym), "
        "count(distinct case when list_contains(?::varchar[], contract_id) then user_pseudonym end) "
        "from marts.fct_job_usage where list_contains(?::varchar[], contract_id) "
        "and start_at is not null and start_at < ? and coalesce(end_at, start_at) > ?",
        [edu_ids, ids, end, start],
    ).fetchone()
    return int(r[0]), int(r[1])


def kpis(con, period: Period, usage_area: str = "all") -> dict[str, float]:
    if not has_table(con, "marts", "fct_impact_kpis"):
        return {}
    out = rows(
        con,
        "select kpi, value from marts.fct_impact_kpis where period_type = ? and period = ? and usage_area = ?",
        [period.kind, period.label, usage_area],
    )
    return {r["kpi"]: (float(r["value"]) if r["value"] is not None else None) for r in out}


def installed_capacity(con, settings) -> dict:
    """Installed nodes/GPUs from the latest inventory in raw, design power and floor from it or config."""
    out = {"floor_area_m2": float(settings.floor_area_m2), "design_it_power_kw": float(settings.design_it_power_kw),
           "gpu_nodes": None, "cpu_nodes": None, "installed_gpus": None}
    if has_table(con, "raw", "inventory_facility"):
        r = con.execute(
            "select floor_area_m2, design_it_power_kw from raw.inventory_facility "
            "order by ingest_id desc, line_no limit 1"
        ).fetchone()
        if r:
            out["floor_area_m2"] = float(r[0]) if r[0] is not None else out["floor_area_m2"]
            out["design_it_power_kw"] = float(r[1]) if r[1] is not None else out["design_it_power_kw"]
    if "gpus" in columns(con, "marts", "dim_node"):
        r = con.execute("select sum(gpus), count(*) filter (where gpus > 0), "
                        "count(*) filter (where coalesce(gpus, 0) = 0) from marts.dim_node").fetchone()
        if r and r[0] is not None:
            out["installed_gpus"], out["gpu_nodes"], out["cpu_nodes"] = int(r[0]), int(r[1]), int(r[2])
            return out
    if has_table(con, "raw", "inventory_nodes"):
        r = con.execute(
            "with latest as (select max(ingest_id) as i from raw.inventory_nodes), "
            "n as (select distinct node, gpus from raw.inventory_nodes, latest where ingest_id = latest.i) "
            "select sum(gpus), count(*) filter (where gpus > 0), count(*) filter (where coalesce(gpus, 0) = 0) from n"
        ).fetchone()
        if r and r[0] is not None:
            out["installed_gpus"], out["gpu_nodes"], out["cpu_nodes"] = int(r[0]), int(r[1]), int(r[2])
    extra = getattr(settings, "extra", {}) or {}
    if out["installed_gpus"] is None and extra.get("installed_gpus"):
        out["installed_gpus"] = int(extra["installed_gpus"])
    return out


# ---------------------------------------------------------------------------- shared sections

def dq_section(con, period: Period, secrets: list[str]) -> dict:
    """The latest outcome of every expectation relevant to the period, from audit.dq_*.

    A run is relevant when its local days overlap the period, or when it is not period-bound
    (raw-layer runs over ingest batches). Per suite the latest such run counts.
    """
    if not (has_table(con, "audit", "dq_runs") and has_table(con, "audit", "dq_results")):
        return {"available": False, "results": [], "counts": {}, "run_ids": []}
    res = rows(
        con,
        """
        with runs as (
            select run_id, started_at, layer from audit.dq_runs
            where period_start is null or (period_start <= ? and coalesce(period_end, period_start) >= ?)
        ), res as (
            select r.*, runs.started_at, runs.layer from audit.dq_results r join runs using (run_id)
        ), latest as (
            select suite, max(started_at) as started_at from res group by suite
        )
        select res.* from res join latest using (suite, started_at)
        order by res.suite, res.expectation
        """,
        [period.end, period.start],
    )
    acc = []
    if has_table(con, "audit", "dq_acceptances"):
        acc = rows(
            con,
            "select suite, expectation, reason, accepted_by, period_start, period_end from audit.dq_acceptances "
            "where period_start <= ? and period_end >= ?",
            [period.end, period.start],
        )
    accepted = {(a["suite"], a["expectation"]): a for a in acc}
    # one line per expectation: its results on the period's days (a run has one per day) combined
    grouped: dict[tuple[str, str], list[dict]] = {}
    for r in res:
        ps, pe = r.get("period_start"), r.get("period_end")
        if ps is not None and (ps > period.end or (pe or ps) < period.start):
            continue
        grouped.setdefault((r["suite"], r["expectation"]), []).append(r)
    out_rows = []
    counts = {"expectations": 0, "passed": 0, "warning_failed": 0, "critical_failed": 0, "accepted": 0}
    for (suite, expectation), group in grouped.items():
        a = accepted.get((suite, expectation))
        failed = [r for r in group if not r["success"]]
        open_failures = [r for r in failed if not (bool(r.get("accepted")) or a is not None)]
        first = (failed or group)[0]
        reason = next((r.get("acceptance_reason") for r in failed if r.get("acceptance_reason")), None) or (a["reason"] if a else "")
        sev = first.get("severity") or "warning"
        counts["expectations"] += 1
        if not failed:
            counts["passed"] += 1
            outcome = "passed"
        elif not open_failures:
            counts["accepted"] += 1
            outcome = "accepted"
        else:
            counts[f"{'critical' if sev == 'critical' else 'warning'}_failed"] += 1
            outcome = "failed"
        unexpected = [r["unexpected_count"] for r in group if r.get("unexpected_count") is not None]
        out_rows.append({
            "suite": suite, "expectation": expectation,
            "severity": L("severity", sev), "outcome": L("dq_outcome", outcome), "outcome_key": outcome,
            "meaning": scrub(first.get("meaning"), secrets),
            "observed": scrub(first.get("observed_value"), secrets),
            "unexpected": Q(sum(unexpected), "count") if unexpected else Q(None, "count"),
            "acceptance_reason": scrub(reason if failed else "", secrets),
        })
    run_ids = sorted({r["run_id"] for r in res})
    return {"available": bool(res), "results": out_rows,
            "counts": {k: Q(v, "count") for k, v in counts.items()}, "run_ids": run_ids}


def provenance(con, period: Period, tz: ZoneInfo, run_id: str, code_version: str, db_path, dq_run_ids) -> dict:
    """Where the figures come from: data window, run ids, code version, input checksums."""
    latest_job = latest_energy = None
    if has_table(con, "marts", "fct_job_usage"):
        latest_job = con.execute("select max(end_at) from marts.fct_job_usage").fetchone()[0]
    if has_table(con, "marts", "fct_energy_daily"):
        latest_energy = con.execute("select max(day) from marts.fct_energy_daily").fetchone()[0]
    inputs, ingests = [], []
    if has_table(con, "audit", "ingests"):
        ingests = rows(
            con,
            "select source, source_file, file_sha256, received_at, rows_loaded from audit.ingests "
            "where status = 'loaded' order by source, ingest_id",
        )
        by_source: dict[str, list[dict]] = {}
        for r in ingests:
            by_source.setdefault(r["source"], []).append(r)
        for source, rs in sorted(by_source.items()):
            combined = hashlib.sha256("\n".join(sorted(r["file_sha256"] for r in rs)).encode()).hexdigest()
            inputs.append({
                "source": source, "files": Q(len(rs), "count"),
                "rows": Q(sum(int(r["rows_loaded"] or 0) for r in rs), "count"),
                "last_received": max(r["received_at"] for r in rs),
                "sha256": combined,
            })
    start_utc, end_utc = period.utc_bounds(tz)
    return {
        "run_id": run_id,
        "generated_at": datetime.now(timezone.utc).replace(microsecond=0),
        "code_version": code_version,
        "warehouse": Path(db_path).name if db_path else "",
        "period_start": period.start, "period_end": period.end,
        "period_start_utc": start_utc, "period_end_utc": end_utc,
        "latest_job_end": latest_job, "latest_energy_day": latest_energy,
        "inputs": inputs,
        "input_files": [{"source": r["source"], "file": Path(r["source_file"]).name, "sha256": r["file_sha256"]}
                        for r in ingests],
        "dq_run_ids": list(dq_run_ids),
    }


# ---------------------------------------------------------------------------- funder impact report

HEADLINE_FUNDER = (
    ("gpu_hours", "gpu_h", 1), ("cpu_core_hours", "core_h", 0), ("jobs", "count", 0),
    ("active_users", "count", 0), ("active_partners", "count", 0), ("new_partners", "count", 0),
    ("revier_gpu_hour_share_pct", "pct", 1), ("company_gpu_hour_share_pct", "pct", 1),
    ("trainees", "count", 0), ("cost_eur", "eur", 2), ("compute_value_eur", "eur", 2), ("subsidy_eur", "eur", 2),
    ("it_energy_kwh", "kwh", 0), ("co2e_kg", "kg", 0),
)

CENTRE_ENERGY = (
    ("it_energy_kwh", "kwh", 0), ("facility_energy_kwh", "kwh", 0), ("pue", "ratio", 2), ("erf", "ratio", 2),
    ("renewable_share_pct", "pct", 1), ("co2e_location_kg", "kg", 0), ("co2e_market_kg", "kg", 0),
)


def _scope_figures(con, scoped: list[dict], period: Period, tz: ZoneInfo) -> dict:
    """Scope totals for one period (plain floats/ints; no suppression yet)."""
    ids = [c["contract_id"] for c in scoped]
    by_c = usage_by_contract(con, ids, period.start, period.end)
    partners = partners_of(scoped)
    edu_ids = [c["contract_id"] for c in scoped if c["usage_area"] == "education"]
    users, trainees = user_counts(con, ids, edu_ids, period, tz)
    total = usage_sum(by_c, "gpu_hours")
    active_partner_ids = {c["partner_id"] for c in scoped
                          if c["contract_id"] in by_c and (_num(by_c[c["contract_id"]].get("gpu_hours"))
                                                           or _num(by_c[c["contract_id"]].get("jobs_started"))
                                                           or _num(by_c[c["contract_id"]].get("cpu_core_hours")))}
    revier_ids = [c["contract_id"] for c in scoped if partners[c["partner_id"]]["is_revier"]]
    company_ids = [c["contract_id"] for c in scoped if partners[c["partner_id"]]["partner_type"] in COMPANY_TYPES]
    first_from: dict[str, date] = {}
    for c in scoped:
        start = c.get("first_usage_day") or c["valid_from"]
        if start is not None:
            pid = c["partner_id"]
            first_from[pid] = min(first_from.get(pid, start), start)
    new_ids = sorted(pid for pid, d in first_from.items() if period.start <= d <= period.end)
    return {
        "by_contract": by_c,
        "gpu_hours": total,
        "cpu_core_hours": usage_sum(by_c, "cpu_core_hours"),
        "jobs": usage_sum(by_c, "jobs_started"),
        "active_users": users,
        "trainees": trainees,
        "active_partners": len(active_partner_ids),
        "new_partner_ids": new_ids,
        "new_partners": len(new_ids) if first_from else None,
        "revier_gpu_hours": usage_sum(by_c, "gpu_hours", set(revier_ids)),
        "company_gpu_hours": usage_sum(by_c, "gpu_hours", set(company_ids)),
        "revier_gpu_hour_share_pct": share(usage_sum(by_c, "gpu_hours", set(revier_ids)), total).value,
        "company_gpu_hour_share_pct": share(usage_sum(by_c, "gpu_hours", set(company_ids)), total).value,
        "cost_eur": usage_sum(by_c, "cost_eur"),
        "compute_value_eur": usage_sum(by_c, "compute_value_eur") if has_usage_column(con, "compute_value_eur") else None,
        "subsidy_eur": usage_sum(by_c, "subsidy_eur") if has_usage_column(con, "subsidy_eur") else None,
        "it_energy_kwh": usage_sum(by_c, "it_energy_kwh"),
        "facility_energy_kwh": usage_sum(by_c, "facility_energy_kwh"),
        "co2e_kg": usage_sum(by_c, "co2e_kg"),
    }


def _q(key: str, value, unit: str, decimals: int) -> Q:
    if unit == "count" and key in ("active_users", "trainees"):
        return count_q(None if value is None else int(value))
    return Q(value, unit, decimals)


def _buckets(period: Period) -> tuple[str, list[date]]:
    """Time buckets for trend charts: weeks for a quarter or month, months for a year."""
    if period.kind == "year":
        return "month", [m.start for m in period.months()]
    out, d = [], period.start - timedelta(days=period.start.weekday())
    while d <= period.end:
        out.append(max(d, period.start))
        d += timedelta(days=7)
    return "week", out


def _bucket_series(con, scoped: list[dict], period: Period) -> dict:
    kind, starts = _buckets(period)
    ids = [c["contract_id"] for c in scoped]
    trunc = "month" if kind == "month" else "week"
    by: dict[tuple, dict] = {}
    if ids and has_table(con, "marts", "fct_usage_daily"):
        for r in rows(
            con,
            f"select greatest(date_trunc('{trunc}', day)::date, ?::date) as b, contract_id, sum(gpu_hours) as g "
            "from marts.fct_usage_daily where list_contains(?::varchar[], contract_id) and day between ? and ? "
            "group by all",
            [period.start, ids, period.start, period.end],
        ):
            by[(r["b"], r["contract_id"])] = _num(r["g"])
    by_id = {c["contract_id"]: c for c in scoped}
    partners = partners_of(scoped)
    present = {c["usage_area"] or "unassigned" for c in scoped}
    areas = [a for a in AREAS if a in present] + sorted(present - set(AREAS))
    series = {a: [0.0] * len(starts) for a in areas}
    totals, revier_h = [0.0] * len(starts), [0.0] * len(starts)
    index = {b: i for i, b in enumerate(starts)}
    for (b, cid), v in by.items():
        i, c = index[b], by_id[cid]
        series[c["usage_area"] or "unassigned"][i] += v
        totals[i] += v
        if partners[c["partner_id"]]["is_revier"]:
            revier_h[i] += v
    revier = [r / t * 100.0 if t else None for r, t in zip(revier_h, totals)]
    return {"bucket_kind": kind, "buckets": starts, "areas": areas, "gpu_hours": series, "revier_share": revier}


def build_funder_report(con, recipient: Recipient, period: Period, settings, *, run_id: str,
                        code_version: str, db_path=None) -> dict:
    tz = settings.tz
    cat = catalogue(con)
    scoped = in_scope(cat, recipient.scope)
    ids = [c["contract_id"] for c in scoped]
    partners = partners_of(scoped)
    prev = period.previous()
    cur = _scope_figures(con, scoped, period, tz)
    old = _scope_figures(con, scoped, prev, tz)
    figures: list[Figure] = []

    headline = []
    for key, unit, dec in HEADLINE_FUNDER:
        if key in ("compute_value_eur", "subsidy_eur") and cur[key] is None:
            continue
        q_new, q_old = _q(key, cur[key], unit, dec), _q(key, old[key], unit, dec)
        if q_new.suppressed or q_old.suppressed:
            change = Q(None, "pct_change", 1)
        elif unit == "pct":  # a change of a share is given in percentage points
            change = Q(cur[key] - old[key] if cur[key] is not None and old[key] is not None else None, "pp", 1)
        else:
            change = pct_change(cur[key], old[key])
        headline.append({"key": key, "label": L("kpi", key), "value": q_new, "previous": q_old, "change": change})
        figures.append(Figure(f"scope.{key}", L("kpi", key), q_new))

    # usage by area
    area_rows = []
    total = cur["gpu_hours"] or 0.0
    series = _bucket_series(con, scoped, period)
    for area in series["areas"]:
        a_ids = {c["contract_id"] for c in scoped if c["usage_area"] == area}
        g_new = usage_sum(cur["by_contract"], "gpu_hours", a_ids)
        g_old = usage_sum(old["by_contract"], "gpu_hours", a_ids)
        area_rows.append({
            "area": L("areas", area), "gpu_hours": Q(g_new, "gpu_h", 1), "share": share(g_new, total),
            "previous": Q(g_old, "gpu_h", 1), "change": pct_change(g_new, g_old),
            "jobs": Q(usage_sum(cur["by_contract"], "jobs_started", a_ids), "count"),
            "contracts": Q(len(a_ids), "count"),
        })
        figures.append(Figure(f"area.{area}.gpu_hours", L("kpi", "gpu_hours"), Q(g_new, "gpu_h", 1), f"@areas.{area}"))

    # regional impact
    active_partners = {c["partner_id"] for c in scoped if active_in(c, period)}
    by_type: dict[str, int] = {}
    by_region: dict[tuple, int] = {}
    for pid in active_partners:
        p = partners[pid]
        by_type[p["partner_type"] or "unknown"] = by_type.get(p["partner_type"] or "unknown", 0) + 1
        reg = (p["nuts3"] or "unknown", p.get("region_name") or "", bool(p["is_revier"]))
        by_region[reg] = by_region.get(reg, 0) + 1
    n_revier = sum(n for (_, _, rv), n in by_region.items() if rv)
    new_named = sorted(partners[pid]["partner_name"] for pid in cur["new_partner_ids"]
                       if not partners[pid]["confidential"] and partners[pid]["partner_name"])
    new_conf = sum(1 for pid in cur["new_partner_ids"] if partners[pid]["confidential"] or not partners[pid]["partner_name"])
    regional = {
        "revier_share": Q(cur["revier_gpu_hour_share_pct"], "pct", 1),
        "revier_share_previous": Q(old["revier_gpu_hour_share_pct"], "pct", 1),
        "company_share": Q(cur["company_gpu_hour_share_pct"], "pct", 1),
        "revier_gpu_hours": Q(cur["revier_gpu_hours"], "gpu_h", 1),
        "partners_total": Q(len(active_partners), "count"),
        "partners_revier": count_q(n_revier),
        "partners_outside": count_q(len(active_partners) - n_revier),
        "by_type": [{"type": L("partner_types", t), "partners": count_q(n)} for t, n in sorted(by_type.items())],
        "by_region": [{"nuts3": nuts, "region_name": name, "revier": L("yesno", "yes" if rv else "no"),
                       "partners": count_q(n)} for (nuts, name, rv), n in sorted(by_region.items())],
        "new_partners": Q(cur["new_partners"], "count"),
        "new_named": new_named,
        "new_confidential": Q(new_conf, "count"),
    }
    figures.append(Figure("regional.revier_gpu_hours", L("kpi", "revier_gpu_hours"), regional["revier_gpu_hours"]))

    # education
    centre_now = kpis(con, period)
    centre_old = kpis(con, prev)
    edu_k = kpis(con, period, "education")
    courses = edu_k.get("courses", centre_now.get("courses"))
    edu_ids = {c["contract_id"] for c in scoped if c["usage_area"] == "education"}
    committed_trainees = [c["trainees"] for c in scoped if c["contract_id"] in edu_ids and c["trainees"] is not None]
    education = {
        "trainees": count_q(cur["trainees"]),
        "trainees_previous": count_q(old["trainees"]),
        "courses_centre": Q(courses, "count"),
        "gpu_hours": Q(usage_sum(cur["by_contract"], "gpu_hours", edu_ids), "gpu_h", 1),
        "contracts": Q(len(edu_ids), "count"),
        "trainees_committed": Q(sum(committed_trainees), "count") if committed_trainees else Q(None, "count"),
    }
    figures.append(Figure("education.courses_centre", L("kpi", "courses"), education["courses_centre"], "@centre"))

    # cooperation projects
    coop = [c for c in scoped if c["usage_area"] == "cooperation" and active_in(c, period)]
    coop_rows = [{
        "contract_id": c["contract_id"], "partner_id": c["partner_id"], "confidential": partners[c["partner_id"]]["confidential"],
        "partner_type": c.get("partner_type"), "order": c["contract_id"],
        "gpu_hours": _num(cur["by_contract"].get(c["contract_id"], {}).get("gpu_hours")),
        "jobs_created": _num(c["jobs_created"]),
        "partner": partner_label(partners[c["partner_id"]]),
        "ptype": L("partner_types", c.get("partner_type") or "unknown"),
    } for c in coop]
    named, agg = group_partner_rows(coop_rows, ("gpu_hours", "jobs_created"), "gpu_hours")
    cooperation = {
        "active": Q(len(coop), "count"),
        "jobs_created_committed": Q(sum(_num(c["jobs_created"]) for c in coop), "count")
        if any(c["jobs_created"] is not None for c in coop) else Q(None, "count"),
        "rows": [{"contract_id": r["contract_id"], "partner": r["partner"], "type": r["ptype"],
                  "gpu_hours": Q(r["gpu_hours"], "gpu_h", 1), "jobs_created": Q(r["jobs_created"], "count")} for r in named],
        "group": _agg_view(agg, {"gpu_hours": ("gpu_h", 1), "jobs_created": ("count", 0)}),
    }
    figures.append(Figure("cooperation.active", L("kpi", "cooperation_projects_active"), cooperation["active"]))

    # capacity use
    cap = installed_capacity(con, settings)
    hours = period.hours(tz)
    cap_gpu_h = cap["installed_gpus"] * hours if cap["installed_gpus"] else None
    capacity = {
        "installed_gpus": Q(cap["installed_gpus"], "count"),
        "capacity_gpu_hours": Q(cap_gpu_h, "gpu_h", 0),
        "scope_share_of_capacity": share(cur["gpu_hours"], cap_gpu_h, 2),
        "gpu_utilization_centre": Q(centre_now.get("gpu_utilization_pct"), "pct", 1),
        "design_it_power_kw": Q(cap["design_it_power_kw"], "kw", 0),
        "avg_it_load_kw": Q(centre_now.get("avg_it_load_kw"), "kw", 1),
        "peak_it_load_kw": Q(centre_now.get("peak_it_load_kw"), "kw", 1),
        "avg_load_share_of_design": share(centre_now.get("avg_it_load_kw"), cap["design_it_power_kw"]),
        "peak_load_share_of_design": share(centre_now.get("peak_it_load_kw"), cap["design_it_power_kw"]),
        "floor_area_m2": Q(cap["floor_area_m2"], "m2", 0),
    }
    figures.append(Figure("centre.gpu_utilization_pct", L("kpi", "gpu_utilization_pct"), capacity["gpu_utilization_centre"], "@centre"))

    # energy and climate
    energy_rows = []
    for key, unit, dec in CENTRE_ENERGY:
        energy_rows.append({"label": L("kpi", key), "value": Q(centre_now.get(key), unit, dec),
                            "previous": Q(centre_old.get(key), unit, dec),
                            "change": pct_change(centre_now.get(key), centre_old.get(key))})
        figures.append(Figure(f"centre.{key}", L("kpi", key), Q(centre_now.get(key), unit, dec), "@centre"))
    months = period.months()
    month_k = [kpis(con, m) for m in months]
    energy = {
        "centre": energy_rows,
        "scope_it_kwh": Q(cur["it_energy_kwh"], "kwh", 0),
        "scope_facility_kwh": Q(cur["facility_energy_kwh"], "kwh", 0),
        "scope_co2e_kg": Q(cur["co2e_kg"], "kg", 0),
        "scope_share_of_it": share(cur["it_energy_kwh"], centre_now.get("it_energy_kwh")),
        "quality": energy_quality(con, ids, period, tz),
        "months": months,
        "pue_by_month": [k.get("pue") for k in month_k],
        "utilization_by_month": [k.get("gpu_utilization_pct") for k in month_k],
    }
    figures.append(Figure("scope.facility_energy_kwh", L("kpi", "facility_energy_kwh"), energy["scope_facility_kwh"]))

    # contract utilisation
    contracts = contract_utilisation(con, [c for c in scoped if active_in(c, period)], partners, period)
    for r in contracts["rows"]:
        figures.append(Figure(f"contract.{r['contract_id']}.gpu_hours_used", L("kpi", "gpu_hours_used"), r["used"], r["contract_id"]))
    if contracts["group"]:
        figures.append(Figure("contract.confidential_group.gpu_hours_used", L("kpi", "gpu_hours_used"),
                              contracts["group"]["used"], "@confidential_group"))

    # state aid
    year_k = kpis(con, Period.parse(str(period.year)))
    econ = year_k.get("economic_use_share_pct")
    state_aid = {
        "economic_use_share": Q(econ, "pct", 1),
        "limit": Q(STATE_AID_LIMIT_PCT, "pct", 0),
        "status": L("status", _limit_status(econ, STATE_AID_LIMIT_PCT)),
        "status_key": _limit_status(econ, STATE_AID_LIMIT_PCT),
        "deminimis": deminimis(con, cat, scoped, period),
        "ceiling": Q(DEMINIMIS_CEILING_EUR, "eur", 0),
    }
    figures.append(Figure("centre.economic_use_share_pct", L("kpi", "economic_use_share_pct"), state_aid["economic_use_share"], "@centre"))

    secrets = confidential_names(cat)
    dq = dq_section(con, period, secrets)
    return {
        "kind": "funder_impact",
        "recipient": {"id": recipient.id, "name": recipient.name},
        "period": period,
        "previous_period": prev,
        "scope": {
            "definition": recipient.scope.to_json(),
            "contracts": Q(len(ids), "count"),
            "partners": Q(len(partners), "count"),
            "areas": [L("areas", a) for a in series["areas"]],
            "empty": not ids,
        },
        "headline": headline,
        "usage_by_area": {"rows": area_rows, "total": Q(total, "gpu_h", 1), "series": series},
        "regional": regional,
        "education": education,
        "cooperation": cooperation,
        "capacity": capacity,
        "energy": energy,
        "contracts": contracts,
        "state_aid": state_aid,
        "dq": {k: v for k, v in dq.items() if k != "run_ids"},
        "figures": figures,
        "provenance": provenance(con, period, tz, run_id, code_version, db_path, dq["run_ids"]),
    }


def _agg_view(agg: dict | None, units: dict[str, tuple[str, int]]) -> dict | None:
    if agg is None:
        return None
    out = {"partners": Q(agg["partners"], "count"), "confidential_partners": Q(agg["confidential_partners"], "count"),
           "merged_named": Q(agg["merged_named"], "count"), "types": agg["types"], "suppressed": agg["suppressed"]}
    for k, (unit, dec) in units.items():
        out[k] = Q(None if agg["suppressed"] else agg[k], unit, dec, suppressed=agg["suppressed"])
    return out


def _limit_status(value: float | None, limit: float) -> str:
    if value is None:
        return "unknown"
    if value >= limit:
        return "exceeded"
    if value >= WARN_AT * limit:
        return "warning"
    return "ok"


QUALITY_KINDS = ("measured", "interpolated", "estimated")


def energy_quality(con, ids: list[str], period: Period, tz: ZoneInfo) -> dict:
    """How much of the attributed IT energy was measured, interpolated or estimated.

    Read from ``measured_kwh`` / ``interpolated_kwh`` / ``estimated_kwh`` on fct_usage_daily
    (per local day), else on fct_job_usage (jobs started in the period), else from an
    ``energy_quality`` label per job; "not available" when the marts carry none of these.
    """
    if not ids:
        return {"available": False, "rows": []}
    split = [f"{k}_kwh" for k in QUALITY_KINDS]
    sums: dict[str, float] = {}
    if set(split) <= columns(con, "marts", "fct_usage_daily"):
        r = con.execute(
            f"select {', '.join(f'sum({c})' for c in split)} from marts.fct_usage_daily "
            "where list_contains(?::varchar[], contract_id) and day between ? and ?",
            [ids, period.start, period.end]).fetchone()
        sums = dict(zip(QUALITY_KINDS, (_num(v) for v in r)))
    else:
        job_cols = columns(con, "marts", "fct_job_usage")
        start, end = period.utc_bounds(tz)
        where = "where list_contains(?::varchar[], contract_id) and start_at >= ? and start_at < ?"
        if set(split) <= job_cols:
            r = con.execute(f"select {', '.join(f'sum({c})' for c in split)} from marts.fct_job_usage {where}",
                            [ids, start, end]).fetchone()
            sums = dict(zip(QUALITY_KINDS, (_num(v) for v in r)))
        elif "energy_quality" in job_cols:
            for q, kwh in con.execute(
                f"select coalesce(energy_quality, 'unknown'), sum(it_energy_kwh) from marts.fct_job_usage {where} "
                "group by 1 order by 1", [ids, start, end]).fetchall():
                sums[q] = _num(kwh)
    total = sum(sums.values())
    rows_out = [{"quality": L("energy_quality", q), "kwh": Q(v, "kwh", 0), "share": share(v, total)}
                for q, v in sums.items() if v]
    return {"available": bool(rows_out), "rows": rows_out}


def month_label_sql(con) -> str:
    """SQL giving 'YYYY-MM' for fct_contract_utilization.month, whether it is a date or text."""
    r = con.execute("select data_type from information_schema.columns where table_schema = 'marts' "
                    "and table_name = 'fct_contract_utilization' and column_name = 'month'").fetchone()
    if r and ("CHAR" in r[0].upper() or "TEXT" in r[0].upper()):
        return "left(month, 7)"
    return "strftime(month::date, '%Y-%m')"


def contract_utilisation(con, scoped: list[dict], partners: dict, period: Period) -> dict:
    """Allocation against use per contract over the period's months; confidential ones grouped."""
    ids = [c["contract_id"] for c in scoped]
    util: dict[str, dict] = {}
    if ids and has_table(con, "marts", "fct_contract_utilization"):
        months = [m.label for m in period.months()]
        for r in rows(
            con,
            "select contract_id, sum(gpu_hours_allocated) as allocated, sum(gpu_hours_used) as used "
            "from marts.fct_contract_utilization where list_contains(?::varchar[], contract_id) "
            f"and {month_label_sql(con)} in (select unnest(?::varchar[])) group by contract_id",
            [ids, months],
        ):
            util[r["contract_id"]] = r
    raw = []
    for c in scoped:
        u = util.get(c["contract_id"], {})
        p = partners[c["partner_id"]]
        raw.append({"contract_id": c["contract_id"], "partner_id": c["partner_id"], "confidential": p["confidential"],
                    "partner_type": p["partner_type"], "order": c["contract_id"],
                    "allocated": _num(u.get("allocated")), "used": _num(u.get("used")),
                    "partner": partner_label(p), "area": L("areas", c["usage_area"] or "unassigned")})
    named, agg = group_partner_rows(raw, ("allocated", "used"), "used")
    out_rows = [{"contract_id": r["contract_id"], "partner": r["partner"], "area": r["area"],
                 "allocated": Q(r["allocated"], "gpu_h", 0), "used": Q(r["used"], "gpu_h", 1),
                 "utilisation": share(r["used"], r["allocated"])} for r in named]
    group = _agg_view(agg, {"allocated": ("gpu_h", 0), "used": ("gpu_h", 1)})
    if group is not None:
        group["utilisation"] = (Q(None, "pct", 1, suppressed=True) if agg["suppressed"]
                                else share(agg["used"], agg["allocated"]))
    tot_alloc = sum(r["allocated"] for r in raw)
    tot_used = sum(r["used"] for r in raw)
    return {"rows": out_rows, "group": group,
            "total": {"allocated": Q(tot_alloc, "gpu_h", 0), "used": Q(tot_used, "gpu_h", 1),
                      "utilisation": share(tot_used, tot_alloc)}}


def deminimis(con, cat: list[dict], scoped: list[dict], period: Period) -> dict:
    """Rolling three-year subsidy per company in scope (all its contracts) against the ceiling."""
    if not has_usage_column(con, "subsidy_eur"):
        return {"available": False, "rows": []}
    companies = {c["partner_id"] for c in scoped if c.get("partner_type") in COMPANY_TYPES}
    if not companies:
        return {"available": True, "rows": []}
    # three years back from the period's last day: (end - 3 years, end]
    start = (date(period.end.year - 3, 3, 1) if (period.end.month, period.end.day) == (2, 29)
             else date(period.end.year - 3, period.end.month, period.end.day) + timedelta(days=1))
    all_ids = {c["partner_id"]: [x["contract_id"] for x in cat if x["partner_id"] == c["partner_id"]] for c in scoped}
    partners = partners_of(cat)
    out = []
    for pid in sorted(companies):
        by_c = usage_by_contract(con, all_ids[pid], start, period.end)
        s = usage_sum(by_c, "subsidy_eur") or 0.0
        status = _limit_status(s, DEMINIMIS_CEILING_EUR)
        out.append({"partner": partner_label(partners[pid]), "subsidy": Q(s, "eur", 2),
                    "share": share(s, DEMINIMIS_CEILING_EUR), "status": L("status", status), "status_key": status})
    out.sort(key=lambda r: (isinstance(r["partner"], L), str(r["partner"]) if not isinstance(r["partner"], L) else r["partner"].key))
    return {"available": True, "rows": out, "window_start": start, "window_end": period.end}


# ---------------------------------------------------------------------------- partner statement

def build_partner_statement(con, recipient: Recipient, period: Period, settings, *, run_id: str,
                            code_version: str, db_path=None) -> dict:
    tz = settings.tz
    cat = catalogue(con)
    scoped = in_scope(cat, recipient.scope)
    ids = [c["contract_id"] for c in scoped]
    partners = partners_of(scoped)
    by_c = usage_by_contract(con, ids, period.start, period.end)
    ytd = usage_by_contract(con, ids, date(period.year, 1, 1), period.end)
    util = {}
    if ids and has_table(con, "marts", "fct_contract_utilization"):
        m_sql = month_label_sql(con)
        for r in rows(
            con,
            f"select contract_id, {m_sql} as m, gpu_hours_allocated as a, gpu_hours_used as u "
            "from marts.fct_contract_utilization where list_contains(?::varchar[], contract_id) "
            f"and {m_sql} between ? and ?",
            [ids, f"{period.year}-01", period.label],
        ):
            util.setdefault(r["contract_id"], {})[r["m"]] = r
    figures: list[Figure] = []
    contract_rows = []
    for c in scoped:
        cid = c["contract_id"]
        month = util.get(cid, {}).get(period.label, {})
        alloc_ytd = sum(_num(v["a"]) for v in util.get(cid, {}).values())
        used = _num(by_c.get(cid, {}).get("gpu_hours"))
        contract_rows.append({
            "contract_id": cid, "area": L("areas", c["usage_area"] or "unassigned"),
            "allocated": Q(month.get("a"), "gpu_h", 0), "used": Q(used, "gpu_h", 1),
            "utilisation": share(used, month.get("a")),
            "allocated_ytd": Q(alloc_ytd if util.get(cid) else None, "gpu_h", 0),
            "used_ytd": Q(_num(ytd.get(cid, {}).get("gpu_hours")), "gpu_h", 1),
            "utilisation_ytd": share(_num(ytd.get(cid, {}).get("gpu_hours")), alloc_ytd if util.get(cid) else None),
            "price": Q(c["price_eur_per_gpu_hour"], "eur_per_gpu_h", 2),
            "cost": Q(_num(by_c.get(cid, {}).get("cost_eur")), "eur", 2),
        })
        figures.append(Figure(f"contract.{cid}.gpu_hours", L("kpi", "gpu_hours_used"), Q(used, "gpu_h", 1), cid))
        figures.append(Figure(f"contract.{cid}.cost_eur", L("kpi", "cost_eur"), Q(_num(by_c.get(cid, {}).get("cost_eur")), "eur", 2), cid))

    states = []
    start, end = period.utc_bounds(tz)
    if ids and has_table(con, "marts", "fct_job_usage"):
        states = rows(
            con,
            "select state, count(*) as jobs, sum(gpu_hours) as gpu_hours from marts.fct_job_usage "
            "where list_contains(?::varchar[], contract_id) and start_at >= ? and start_at < ? "
            "group by state order by jobs desc, state",
            [ids, start, end],
        )
    jobs_by_state = [{"state": L("job_states", (r["state"] or "UNKNOWN").upper()), "jobs": Q(r["jobs"], "count"),
                      "gpu_hours": Q(r["gpu_hours"], "gpu_h", 1)} for r in states]
    for r in states:
        figures.append(Figure(f"jobs.{(r['state'] or 'UNKNOWN').upper()}", L("kpi", "jobs"), Q(r["jobs"], "count"),
                              f"@job_states.{(r['state'] or 'UNKNOWN').upper()}"))

    daily_map: dict[date, dict] = {}
    if ids and has_table(con, "marts", "fct_usage_daily"):
        for r in rows(
            con,
            "select day, sum(gpu_hours) as gpu_hours, sum(it_energy_kwh) as it, sum(facility_energy_kwh) as fac, "
            "sum(co2e_kg) as co2e, sum(cost_eur) as cost from marts.fct_usage_daily "
            "where list_contains(?::varchar[], contract_id) and day between ? and ? group by day",
            [ids, period.start, period.end],
        ):
            daily_map[r["day"]] = r
    daily = []
    d = period.start
    while d <= period.end:
        r = daily_map.get(d, {})
        daily.append({"day": d, "gpu_hours": Q(_num(r.get("gpu_hours")), "gpu_h", 1), "it": Q(_num(r.get("it")), "kwh", 1),
                      "facility": Q(_num(r.get("fac")), "kwh", 1), "co2e": Q(_num(r.get("co2e")), "kg", 1),
                      "cost": Q(_num(r.get("cost")), "eur", 2)})
        d += timedelta(days=1)

    edu_ids = [c["contract_id"] for c in scoped if c["usage_area"] == "education"]
    users, _ = user_counts(con, ids, edu_ids, period, tz)
    totals = {
        "gpu_hours": Q(usage_sum(by_c, "gpu_hours"), "gpu_h", 1),
        "cpu_core_hours": Q(usage_sum(by_c, "cpu_core_hours"), "core_h", 0),
        "jobs": Q(usage_sum(by_c, "jobs_started"), "count"),
        "users": count_q(users),
        "it_energy_kwh": Q(usage_sum(by_c, "it_energy_kwh"), "kwh", 1),
        "facility_energy_kwh": Q(usage_sum(by_c, "facility_energy_kwh"), "kwh", 1),
        "co2e_kg": Q(usage_sum(by_c, "co2e_kg"), "kg", 1),
        "cost_eur": Q(usage_sum(by_c, "cost_eur"), "eur", 2),
        "compute_value_eur": Q(usage_sum(by_c, "compute_value_eur") if has_usage_column(con, "compute_value_eur") else None, "eur", 2),
        "subsidy_eur": Q(usage_sum(by_c, "subsidy_eur") if has_usage_column(con, "subsidy_eur") else None, "eur", 2),
    }
    for key, q in totals.items():
        figures.append(Figure(f"total.{key}", L("kpi", "active_users" if key == "users" else key), q))
    secrets = confidential_names(cat)
    dq = dq_section(con, period, secrets)
    return {
        "kind": "partner_statement",
        "recipient": {"id": recipient.id, "name": _partner_names(partners) or recipient.name},
        "period": period,
        "partners": [{"id": p["partner_id"], "name": partner_label(p) if not p["confidential"] else p["partner_id"],
                      "type": L("partner_types", p["partner_type"] or "unknown")} for p in partners.values()],
        "contracts": contract_rows,
        "jobs_by_state": jobs_by_state,
        "daily": daily,
        "totals": totals,
        "quality": energy_quality(con, ids, period, tz),
        "empty": not ids,
        "dq": {k: v for k, v in dq.items() if k != "run_ids"},
        "figures": figures,
        "provenance": provenance(con, period, tz, run_id, code_version, db_path, dq["run_ids"]),
    }


def _partner_names(partners: dict) -> str:
    return ", ".join(p["partner_name"] if not p["confidential"] and p["partner_name"] else p["partner_id"]
                     for p in partners.values())


# ---------------------------------------------------------------------------- annual energy report

ENERGY_HEADLINE = (
    ("facility_energy_kwh", "kwh", 0), ("it_energy_kwh", "kwh", 0), ("pue", "ratio", 2), ("erf", "ratio", 2),
    ("ref", "ratio", 2), ("renewable_share_pct", "pct", 1), ("co2e_location_kg", "kg", 0),
    ("co2e_market_kg", "kg", 0), ("gpu_utilization_pct", "pct", 1), ("avg_it_load_kw", "kw", 1),
    ("peak_it_load_kw", "kw", 1),
)
METER_SUMS = ("grid_kwh", "it_kwh", "cooling_kwh", "heat_reuse_kwh", "renewable_kwh")


def _with_ref(k: dict) -> dict:
    k = dict(k)
    if k.get("renewable_share_pct") is not None:
        k["ref"] = k["renewable_share_pct"] / 100.0
    return k


def build_energy_report(con, recipient: Recipient, period: Period, settings, *, run_id: str,
                        code_version: str, db_path=None) -> dict:
    tz = settings.tz
    cur = _with_ref(kpis(con, period))
    old = _with_ref(kpis(con, period.previous()))
    cap = installed_capacity(con, settings)
    figures: list[Figure] = []
    headline = []
    for key, unit, dec in ENERGY_HEADLINE:
        q = Q(cur.get(key), unit, dec)
        headline.append({"key": key, "label": L("kpi", key), "value": q, "previous": Q(old.get(key), unit, dec),
                         "change": pct_change(cur.get(key), old.get(key))})
        figures.append(Figure(f"year.{key}", L("kpi", key), q))
    load_share = share(cur.get("avg_it_load_kw"), cap["design_it_power_kw"])
    peak_share = share(cur.get("peak_it_load_kw"), cap["design_it_power_kw"])
    figures.append(Figure("year.avg_load_share_of_design", L("kpi", "avg_load_share_of_design"), load_share))

    months = period.months()
    monthly = []
    series = {k: [] for k in ("pue", "gpu_utilization_pct", "it_energy_kwh", "facility_energy_kwh", "renewable_share_pct")}
    for m in months:
        k = _with_ref(kpis(con, m))
        monthly.append({"month": m, "facility": Q(k.get("facility_energy_kwh"), "kwh", 0),
                        "it": Q(k.get("it_energy_kwh"), "kwh", 0), "pue": Q(k.get("pue"), "ratio", 2),
                        "erf": Q(k.get("erf"), "ratio", 2), "ref": Q(k.get("ref"), "ratio", 2),
                        "utilisation": Q(k.get("gpu_utilization_pct"), "pct", 1),
                        "avg_load": Q(k.get("avg_it_load_kw"), "kw", 0), "peak_load": Q(k.get("peak_it_load_kw"), "kw", 0)})
        for key in series:
            series[key].append(k.get(key))
        figures.append(Figure(f"month.{m.label}.pue", L("kpi", "pue"), Q(k.get("pue"), "ratio", 2), m.label))
        figures.append(Figure(f"month.{m.label}.facility_energy_kwh", L("kpi", "facility_energy_kwh"),
                              Q(k.get("facility_energy_kwh"), "kwh", 0), m.label))

    meters = {"available": False, "rows": [], "total": {}}
    e_cols = columns(con, "marts", "fct_energy_daily")
    if e_cols:
        sums = [k for k in METER_SUMS if k in e_cols]
        by_m = {r["m"]: r for r in rows(
            con,
            f"select strftime(day, '%Y-%m') as m, count(*) as days, {', '.join(f'sum({k}) as {k}' for k in sums)} "
            "from marts.fct_energy_daily where day between ? and ? group by 1",
            [period.start, period.end],
        )}
        meters["available"] = bool(by_m)
        for m in months:
            r = by_m.get(m.label, {})
            meters["rows"].append({"month": m, "days": Q(r.get("days"), "count"),
                                   **{k: Q(r.get(k), "kwh", 0) for k in METER_SUMS}})
        meters["total"] = {"days": Q(sum(int(r.get("days") or 0) for r in by_m.values()), "count"),
                           **{k: Q(sum(_num(r.get(k)) for r in by_m.values()) if k in sums else None, "kwh", 0)
                              for k in METER_SUMS}}
    secrets = confidential_names(catalogue(con))
    dq = dq_section(con, period, secrets)
    return {
        "kind": "energy_annual",
        "recipient": {"id": recipient.id, "name": recipient.name},
        "period": period,
        "previous_period": period.previous(),
        "facility": {
            "floor_area_m2": Q(cap["floor_area_m2"], "m2", 0),
            "design_it_power_kw": Q(cap["design_it_power_kw"], "kw", 0),
            "installed_gpus": Q(cap["installed_gpus"], "count"),
            "gpu_nodes": Q(cap["gpu_nodes"], "count"),
            "cpu_nodes": Q(cap["cpu_nodes"], "count"),
            "avg_load_share_of_design": load_share,
            "peak_load_share_of_design": peak_share,
        },
        "headline": headline,
        "monthly": monthly,
        "series": {"months": months, **series},
        "meters": meters,
        "dq": {k: v for k, v in dq.items() if k != "run_ids"},
        "figures": figures,
        "provenance": provenance(con, period, tz, run_id, code_version, db_path, dq["run_ids"]),
    }


BUILDERS = {
    "funder_impact": build_funder_report,
    "partner_statement": build_partner_statement,
    "energy_annual": build_energy_report,
}
