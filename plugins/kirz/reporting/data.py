"""What every report kind shares: reading the reporting models and the recipient's scope.

Every figure a report prints is a column of a dbt model (``reporting.rpt_*`` or a mart) and
every threshold a row of ``ref.settings``; this module selects the rows of the recipient's
scope and hands them to the builders of the report kinds (:mod:`kirz.reporting.funder_impact`,
:mod:`kirz.reporting.partner_statement`, :mod:`kirz.reporting.energy_annual`) as
:class:`~kirz.reporting.model.Q` quantities and :class:`~kirz.reporting.model.L` labels. It
computes no figure. Disclosure control (the confidential aggregate, small groups, secondary
suppression) is :mod:`kirz.reporting.disclosure`.

- Scope: a report reads the rows of its scope key (``all``, ``funder:<id>``, ``partner:<id>``,
  see ``reporting.rpt_scope_period``) and the contracts the recipient's scope covers.
- A partner whose confidential flag is missing counts as confidential.
- User pseudonyms never reach report data.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import yaml

from kirz.reporting.disclosure import users_q  # noqa: F401  (partner statements count users with it)
from kirz.reporting.model import L, Period, Q
from kirz.reporting.recipients import Recipient, RecipientError, Scope

AREAS = ("methods_research", "cooperation", "education", "operations", "unassigned")

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


def has_table(con, schema: str, table: str) -> bool:
    return con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()[0] > 0


def rows(con, sql: str, params=None) -> list[dict]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def scrub(text, secrets: list[str]) -> str:
    """Remove user pseudonyms and confidential names from free text (e.g. DQ observed values)."""
    if text is None:
        return ""
    out = PSEUDONYM_RE.sub("u_…", str(text))
    for s in secrets:
        if s:
            out = re.sub(re.escape(s), "[confidential]", out, flags=re.IGNORECASE)
    return out


class ReportDataError(RuntimeError):
    """The warehouse lacks what a report needs (names the table)."""


def require(con, *tables: str) -> None:
    missing = [t for t in tables if not has_table(con, *t.split("."))]
    if missing:
        raise ReportDataError(
            f"the warehouse has no {', '.join(missing)}: run `kirz transform` (and `kirz publish`) first"
        )


# ---------------------------------------------------------------------------- rules

@dataclass(frozen=True)
class Rules:
    """The thresholds of ``ref.settings`` the report code needs (published with the data)."""

    min_group_size: int
    deminimis_ceiling_eur: float
    deminimis_window_years: int
    economic_use_allowance_share: float
    warn_share: float
    burn_rate_days: int

    @classmethod
    def read(cls, con) -> "Rules":
        require(con, "ref.settings")
        values = {r[0]: json.loads(r[1]) for r in con.execute("select setting, value from ref.settings").fetchall()}
        try:
            return cls(
                min_group_size=int(values["min_group_size"]),
                deminimis_ceiling_eur=float(values["deminimis_ceiling_eur"]),
                deminimis_window_years=int(values["deminimis_window_years"]),
                economic_use_allowance_share=float(values["economic_use_allowance_share"]),
                warn_share=float(values["warn_share"]),
                burn_rate_days=int(values["burn_rate_days"]),
            )
        except KeyError as exc:
            raise ReportDataError(f"ref.settings has no {exc.args[0]}: rebuild with `kirz transform`") from None


# ---------------------------------------------------------------------------- contracts and partners

def catalogue(con) -> list[dict]:
    """Current contracts with their partner (marts.dim_contract joined with marts.dim_partner)."""
    require(con, "marts.dim_contract", "marts.dim_partner")
    out = rows(
        con,
        """
        select
            c.contract_id, c.partner_id, c.usage_area, c.funders, c.valid_from, c.valid_to,
            c.gpu_hours_allocated, c.price_eur_per_gpu_hour, c.jobs_created, c.trainees,
            p.partner_name, p.partner_type, p.nuts3, p.region_name, p.is_revier,
            coalesce(p.is_confidential, true) or coalesce(c.is_partner_confidential, true) as confidential
        from marts.dim_contract c
        left join marts.dim_partner p on p.partner_id = c.partner_id
        order by c.contract_id
        """,
    )
    for r in out:
        r["funders"] = list(r["funders"] or [])
        r["confidential"] = bool(r["confidential"])
        r["is_revier"] = bool(r["is_revier"])
    return out


def partners_of(contracts: list[dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for c in contracts:
        out.setdefault(c["partner_id"], {k: c.get(k) for k in ("partner_id", "partner_name", "partner_type", "nuts3",
                                                                  "region_name", "is_revier", "confidential")})
    return out


def in_scope(catalogue_rows: list[dict], scope: Scope) -> list[dict]:
    return [c for c in catalogue_rows if scope.covers(c["contract_id"], c["funders"], c["usage_area"])]


def scope_key(recipient: Recipient) -> str:
    """The key of the recipient's scope in ``reporting.rpt_scope_period``.

    The reporting models count distinct users and partners for the whole centre, each funder
    and each partner; a scope the models do not hold is a recipient definition error.
    """
    s = recipient.scope
    if recipient.partner_id:
        return f"partner:{recipient.partner_id}"
    if s.everything:
        return "all"
    if len(s.funders) == 1 and not s.contracts:
        return f"funder:{s.funders[0]}"
    raise RecipientError(
        f"{recipient.source or recipient.id}: a report scope must be all, one funder (optionally with usage "
        f"areas) or one partner; got {s.to_json()}"
    )


def confidential_names(catalogue_rows: list[dict]) -> list[str]:
    return sorted({c["partner_name"] for c in catalogue_rows if c["confidential"] and c["partner_name"]})


# ---------------------------------------------------------------------------- model readers

def coverage(con, period: Period) -> dict | None:
    """The period's row of reporting.rpt_period_coverage (None: no data in the period)."""
    require(con, "reporting.rpt_period_coverage")
    out = rows(con, "select * from reporting.rpt_period_coverage where period_type = ? and period = ?",
               [period.kind, period.label])
    return out[0] if out else None


def scope_rows(con, key: str, period: Period) -> dict[str, dict]:
    """reporting.rpt_scope_period for one scope and period, by usage area ('all' included)."""
    require(con, "reporting.rpt_scope_period")
    return {r["usage_area"]: r for r in rows(
        con, "select * from reporting.rpt_scope_period where scope_key = ? and period_type = ? and period = ?",
        [key, period.kind, period.label])}


def contract_periods(con, ids: list[str], period: Period) -> dict[str, dict]:
    """reporting.rpt_contract_period rows of the given contracts for one period."""
    require(con, "reporting.rpt_contract_period")
    if not ids:
        return {}
    return {r["contract_id"]: r for r in rows(
        con,
        "select * from reporting.rpt_contract_period where list_contains(?::varchar[], contract_id) "
        "and period_type = ? and period = ?",
        [ids, period.kind, period.label])}


def kpis(con, period: Period, usage_area: str = "all") -> dict[str, float]:
    """marts.fct_impact_kpis of one period and usage area, by KPI name."""
    require(con, "marts.fct_impact_kpis")
    out = rows(
        con,
        "select kpi, value from marts.fct_impact_kpis where period_type = ? and period = ? and usage_area = ?",
        [period.kind, period.label, usage_area],
    )
    return {r["kpi"]: (float(r["value"]) if r["value"] is not None else None) for r in out}


def state_aid(con, period: Period) -> dict | None:
    require(con, "reporting.rpt_state_aid")
    out = rows(con, "select * from reporting.rpt_state_aid where period_type = ? and period = ?",
               [period.kind, period.label])
    return out[0] if out else None


def deminimis_rows(con, period: Period) -> list[dict]:
    require(con, "reporting.rpt_deminimis")
    return rows(con, "select * from reporting.rpt_deminimis where period_type = ? and period = ? "
                     "order by undertaking_id", [period.kind, period.label])


def previous_with_data(con, period: Period) -> Period | None:
    """The previous period of the same kind when it has data, else None (no comparison)."""
    prev = period.previous()
    return prev if coverage(con, prev) is not None else None


def coverage_view(cov: dict | None, period: Period) -> dict:
    """Coverage as the templates show it: days with data of days in the period, partial or not."""
    if cov is None:
        return {"days_with_data": Q(0, "count"), "days_in_period": Q(period.days(), "count"), "is_partial": True,
                "first_data_day": None, "last_data_day": None, "operation_start_day": None,
                "operation_started_in_period": False}
    return {
        "days_with_data": Q(cov["days_with_data"], "count"),
        "days_in_period": Q(cov["days_in_period"], "count"),
        "days_in_operation": Q(cov["days_in_operation"], "count"),
        "is_partial": bool(cov["is_partial"]),
        "first_data_day": cov["first_data_day"],
        "last_data_day": cov["last_data_day"],
        "operation_start_day": cov["operation_start_day"],
        "operation_started_in_period": bool(cov["operation_started_in_period"]),
    }


def status_label(status: str | None) -> tuple[L, str]:
    key = status or "unknown"
    return L("status", key), key


# ---------------------------------------------------------------------------- shared sections

def dq_section(con, period: Period, secrets: list[str]) -> dict:
    """The latest outcome of every expectation relevant to the period, from audit.dq_*.

    A result is relevant when its local days overlap the period, or when it is not
    period-bound (whole tables). Per expectation and day the latest run counts, as at the gate
    (:func:`kirz.validation.latest_results`): an incremental run that checked only the days a
    late file touched does not hide the earlier results of the period's other days.
    """
    if not (has_table(con, "audit", "dq_runs") and has_table(con, "audit", "dq_results")):
        return {"available": False, "results": [], "counts": {}, "run_ids": []}
    res = rows(
        con,
        """
        with res as (
            select r.*, u.started_at, u.layer from audit.dq_results r join audit.dq_runs u using (run_id)
            where r.period_start is null or (r.period_start <= ? and coalesce(r.period_end, r.period_start) >= ?)
        ), ranked as (
            select *, row_number() over (
                partition by suite, expectation, period_start, period_end order by started_at desc, run_id desc
            ) as rank_in_day
            from res
        )
        select * exclude (rank_in_day) from ranked where rank_in_day = 1
        order by suite, expectation, period_start nulls first
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
        checked = [int(m.group(2)) for m in (OBSERVED_RE.fullmatch(r.get("observed_value") or "") for r in group) if m]
        days = [r for r in group if r.get("period_start") is not None]
        out_rows.append({
            "suite": suite, "expectation": expectation,
            "severity": L("severity", sev), "severity_key": sev,
            "outcome": L("dq_outcome", outcome), "outcome_key": outcome,
            "meaning": scrub(first.get("meaning"), secrets),
            "meaning_de": dq_meanings_de().get(expectation) or "",
            # every result of the period summed: rows that failed of the rows checked, days that failed
            "observed": scrub(first.get("observed_value"), secrets) if len(group) == 1 or not checked else "",
            "unexpected": Q(sum(unexpected), "count") if unexpected else Q(None, "count"),
            "rows_checked": Q(sum(checked), "count") if len(checked) == len(group) else Q(None, "count"),
            "days": Q(len(days), "count") if days else Q(None, "count"),
            "days_failed": Q(len([r for r in days if not r["success"]]), "count") if days else Q(None, "count"),
            "acceptance_reason": scrub(reason if failed else "", secrets),
        })
    run_ids = sorted({r["run_id"] for r in res})
    order = {"failed": 0, "accepted": 1}
    findings = sorted((r for r in out_rows if r["outcome_key"] != "passed"),
                      key=lambda r: (order[r["outcome_key"]], r["severity_key"] != "critical", r["suite"],
                                     r["expectation"]))
    return {"available": bool(res), "results": out_rows, "findings": findings,
            "counts": {k: Q(v, "count") for k, v in counts.items()}, "run_ids": run_ids}


OBSERVED_RE = re.compile(r"(\d+) unexpected of (\d+) rows")
"""How a period-bound check records what it saw per day (kirz.validation): summed over the days."""


@lru_cache(maxsize=1)
def dq_meanings_de() -> dict[str, str]:
    """The German meaning of every data-quality check (``expectations/meanings.de.yaml``)."""
    from kirz.config import EXPECTATIONS_DIR

    return yaml.safe_load((EXPECTATIONS_DIR / "meanings.de.yaml").read_text(encoding="utf-8"))


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


def appendix(con, period: Period, settings, secrets: list[str], *, run_id: str, code_version: str,
             db_path) -> dict:
    """The data-quality section and the provenance every report kind closes with."""
    dq = dq_section(con, period, secrets)
    return {"dq": {k: v for k, v in dq.items() if k != "run_ids"},
            "provenance": provenance(con, period, settings.tz, run_id, code_version, db_path, dq["run_ids"])}


@dataclass(frozen=True)
class ScopeView:
    """What a builder starts from: the rules, the contracts and partners of the recipient's scope."""

    rules: Rules
    catalogue: list[dict]
    contracts: list[dict]
    partners: dict[str, dict]
    key: str

    @property
    def ids(self) -> list[str]:
        return [c["contract_id"] for c in self.contracts]

    @classmethod
    def of(cls, con, recipient: Recipient) -> "ScopeView":
        rules = Rules.read(con)
        cat = catalogue(con)
        scoped = in_scope(cat, recipient.scope)
        return cls(rules, cat, scoped, partners_of(scoped), scope_key(recipient))


def quality_view(row: dict | None) -> dict:
    """Measured / interpolated / estimated IT energy of a scope row, with their shares."""
    if not row or not row.get("it_energy_kwh"):
        return {"available": False, "rows": []}
    out = [{"quality": L("energy_quality", k), "kwh": Q(row[f"{k}_kwh"], "kwh", 0),
            "share": Q(row[f"{k}_share_pct"], "pct", 1)}
           for k in ("measured", "interpolated", "estimated") if row[f"{k}_kwh"]]
    return {"available": bool(out), "rows": out}
