"""The HTML page of a validation run (``<home>/dq/<run_id>.html``, ``<home>/dq/latest.html``) and
the data-quality history of the operator console.

The page is built from plain data (``run_view``) and rendered by a Jinja2 template with
autoescape and StrictUndefined; the template only presents. Beside each page the run's summary
is written as ``<home>/dq/<run_id>.summary.json`` (counts, window, every check's outcome, the
failures): the console's history (:func:`dq_history`) reads these files and never opens the live
warehouse, which the pipeline's writers need to themselves (a DuckDB reader blocks a writer).
Runs without a summary file (validated before there was one) and the acceptances come from the
latest published snapshot.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Iterator

from kirz.config import REPORT_ASSETS_DIR, Settings

TEMPLATE = "dq_run.html.j2"
HISTORY_TEMPLATE = "dq_history.html.j2"
MAX_FAILURES_LISTED = 200
SUMMARY_SUFFIX = ".summary.json"
# a summary keeps this many failures in detail (all checks' outcomes are kept, compactly)
MAX_FINDINGS_KEPT = 1000
STATUS_RANK = {"failed": 0, "warning": 1, "passed": 2}
LAYER_ORDER = ("raw", "marts")


def templates_dir(settings: Settings | None = None) -> Path:
    """The report templates of the settings (``report_assets_dir``), else the repository's."""
    return settings.templates_dir if settings is not None else REPORT_ASSETS_DIR / "templates"


def _fmt_time(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else "–"


def _period(ps, pe) -> str:
    if ps is None:
        return "whole table"
    return ps.isoformat() if ps == pe else f"{ps.isoformat()} .. {pe.isoformat()}"


def _outcome(rows: list[dict]) -> str:
    failed = [r for r in rows if not r["success"]]
    if not failed:
        return "passed"
    if all(r["accepted"] for r in failed):
        return "accepted"
    return "failed"


def _examples_table(raw: str | None) -> dict:
    try:
        examples = json.loads(raw or "[]")
    except ValueError:
        examples = []
    columns: list[str] = []
    for ex in examples:
        for key in ex:
            if key not in columns:
                columns.append(key)
    rows = [["" if ex.get(c) is None else str(ex.get(c)) for c in columns] for ex in examples]
    return {"columns": columns, "rows": rows}


def _layer_view(run) -> dict:
    suites: dict[str, dict] = {}
    for r in run.results:
        s = suites.setdefault(r["suite"], {"suite": r["suite"], "table_name": r["table_name"], "rows": {}})
        s["rows"].setdefault(r["expectation"], []).append(r)
    suite_views = []
    for name in sorted(suites):
        s = suites[name]
        exps = []
        for eid, rows in s["rows"].items():
            failed = [r for r in rows if not r["success"]]
            first = (failed or rows)[0]
            exps.append({
                "id": eid,
                "type": first["expectation_type"],
                "severity": first["severity"],
                "meaning": first["meaning"],
                "outcome": _outcome(rows),
                "periods": len(rows),
                "periods_failed": len(failed),
                "unexpected": sum(int(r["unexpected_count"] or 0) for r in failed),
                "observed": first["observed_value"] or "",
            })
        order = {"failed": 0, "accepted": 1, "passed": 2}
        exps.sort(key=lambda e: (order[e["outcome"]], e["severity"] != "critical", e["id"]))
        suite_views.append({
            "suite": name,
            "table_name": s["table_name"],
            "outcome": "failed" if any(e["outcome"] == "failed" for e in exps) else (
                "accepted" if any(e["outcome"] == "accepted" for e in exps) else "passed"),
            "expectations": exps,
        })
    failures = [r for r in run.results if not r["success"]]
    failures.sort(key=lambda r: (r["severity"] != "critical", r["suite"], r["expectation"], str(r["period_start"])))
    failure_views = [
        {
            "suite": r["suite"],
            "expectation": r["expectation"],
            "severity": r["severity"],
            "meaning": r["meaning"],
            "period": _period(r["period_start"], r["period_end"]),
            "observed": r["observed_value"] or "",
            "unexpected": r["unexpected_count"],
            "accepted": bool(r["accepted"]),
            "acceptance_reason": r["acceptance_reason"] or "",
            "examples": _examples_table(r["unexpected_examples"]),
        }
        for r in failures[:MAX_FAILURES_LISTED]
    ]
    return {
        "run_id": run.run_id,
        "layer": run.layer,
        "status": run.status,
        "batch": run.batch,
        "period": _period(run.period_start, run.period_end) if run.period_start else "no local days",
        "suites": suite_views,
        "failures": failure_views,
        "failures_not_listed": max(0, len(failures) - MAX_FAILURES_LISTED),
        "counts": {
            "suites": run.suites, "checks": run.expectations, "passed": run.passed,
            "warnings": run.warnings, "critical": run.critical,
        },
    }


def run_view(run) -> dict:
    """Plain data for the page of a run (a layer run, or a combined run with its parts)."""
    layers = [_layer_view(p) for p in run.parts] if run.parts else [_layer_view(run)]
    duration = (
        (run.finished_at - run.started_at).total_seconds()
        if run.started_at is not None and run.finished_at is not None else None
    )
    return {
        "run_id": run.run_id,
        "layer": run.layer,
        "status": run.status,
        "batch": run.batch,
        "period": _period(run.period_start, run.period_end) if run.period_start else "no local days",
        "started_at": _fmt_time(run.started_at),
        "finished_at": _fmt_time(run.finished_at),
        "duration": f"{duration:.1f} s" if duration is not None else "–",
        "code_version": run.code_version,
        "counts": {
            "suites": run.suites, "checks": run.expectations, "passed": run.passed,
            "warnings": run.warnings, "critical": run.critical,
        },
        "parts": [{"run_id": p.run_id, "layer": p.layer, "status": p.status, "href": f"{p.run_id}.html"} for p in run.parts],
        "layers": layers,
    }


def render_template(name: str, settings: Settings | None = None, **context) -> str:
    """One of the report templates, autoescaped, with StrictUndefined."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(str(templates_dir(settings))),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template(name).render(**context)


def render_html(view: dict, settings: Settings | None = None) -> str:
    return render_template(TEMPLATE, settings, run=view)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def render_run(settings: Settings, run) -> Path:
    """Write the run's page and make it ``latest.html``; returns the page's path."""
    out_dir = settings.home / "dq"
    out_dir.mkdir(parents=True, exist_ok=True)
    html = render_html(run_view(run), settings)
    page = out_dir / f"{run.run_id}.html"
    _write_atomic(page, html)
    _write_atomic(out_dir / "latest.html", html)
    _write_atomic(out_dir / f"{run.run_id}{SUMMARY_SUFFIX}",
                  json.dumps(run_summary(run), indent=1, ensure_ascii=False, default=str))
    run.html_path = page
    return page


# ------------------------------------------------------------------------- the history


def _iso(value) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, (date, datetime)) else str(value)


def _day(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _finding(r: dict) -> dict:
    return {
        "suite": r["suite"], "expectation": r["expectation"], "severity": r["severity"],
        "meaning": r["meaning"] or "", "period_start": _iso(r["period_start"]), "period_end": _iso(r["period_end"]),
        "observed": r["observed_value"] or "", "unexpected": r["unexpected_count"],
        "accepted": bool(r["accepted"]),
    }


def _summary_from(run_id, layer, status, batch, ps, pe, started, finished, suites, code_version,
                  results: list[dict], parts: list[str]) -> dict:
    failed = [r for r in results if not r["success"]]
    critical = sum(1 for r in failed if r["severity"] == "critical" and not r["accepted"])
    failed.sort(key=lambda r: (r["severity"] != "critical", bool(r["accepted"]), r["suite"], r["expectation"],
                               str(r["period_start"])))
    return {
        "run_id": run_id, "layer": layer, "status": status, "batch": batch or "",
        "period_start": _iso(ps), "period_end": _iso(pe),
        "window": _period(_day(ps), _day(pe)) if ps else "no local days",
        "started_at": _iso(started), "finished_at": _iso(finished),
        "suites": suites, "checks": len(results), "passed": sum(1 for r in results if r["success"]),
        "failures": len(failed), "critical": critical, "warnings": len(failed) - critical,
        "accepted": sum(1 for r in failed if r["accepted"]),
        "code_version": code_version or "", "parts": parts,
        # every check: suite, expectation, period start, period end, success, severity, accepted
        "checks_list": [[r["suite"], r["expectation"], _iso(r["period_start"]), _iso(r["period_end"]),
                         bool(r["success"]), r["severity"], bool(r["accepted"])] for r in results],
        "findings": [_finding(r) for r in failed[:MAX_FINDINGS_KEPT]],
    }


def run_summary(run) -> dict:
    """The plain data the history needs of a run (written beside its page)."""
    return _summary_from(run.run_id, run.layer, run.status, run.batch, run.period_start, run.period_end,
                         run.started_at, run.finished_at, run.suites, run.code_version,
                         [] if run.parts else run.results, [p.run_id for p in run.parts])


def snapshot_path(settings: Settings) -> Path | None:
    """The latest published snapshot (read-only, never written again), if there is one."""
    path = settings.published_dir / "latest.duckdb"
    return path if path.exists() else None


@contextmanager
def snapshot_connection(settings: Settings) -> Iterator[object | None]:
    """A read-only connection to the latest published snapshot, or None without a usable one."""
    import duckdb

    path = snapshot_path(settings)
    con = None
    if path is not None:
        try:
            con = duckdb.connect(str(path), read_only=True)
            con.execute("set TimeZone = 'UTC'")
        except duckdb.Error:
            con = None
    try:
        yield con
    finally:
        if con is not None:
            con.close()


def _has_table(con, schema: str, table: str) -> bool:
    return con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table]).fetchone()[0] > 0


def _dicts(con, sql: str, params=None) -> list[dict]:
    cur = con.execute(sql, params or [])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


def _snapshot_runs(con, known: set[str]) -> list[dict]:
    """Summaries of the snapshot's layer runs that have no summary file."""
    if con is None or not (_has_table(con, "audit", "dq_runs") and _has_table(con, "audit", "dq_results")):
        return []
    runs = [r for r in _dicts(con, "select * from audit.dq_runs where layer in ('raw', 'marts')")
            if r["run_id"] not in known]
    if not runs:
        return []
    results: dict[str, list[dict]] = {}
    for r in _dicts(con, "select * from audit.dq_results where list_contains(?, run_id)", [[x["run_id"] for x in runs]]):
        results.setdefault(r["run_id"], []).append(r)
    return [
        _summary_from(r["run_id"], r["layer"], r["status"], r["batch"], r["period_start"], r["period_end"],
                      r["started_at"], r["finished_at"], r["suites"], r["code_version"],
                      results.get(r["run_id"], []), [])
        for r in runs
    ]


def _acceptances(con) -> list[dict]:
    if con is None or not _has_table(con, "audit", "dq_acceptances"):
        return []
    return _dicts(con, "select suite, expectation, period_start, period_end, reason from audit.dq_acceptances")


def _accepted_by(accs: list[dict], suite: str, expectation: str, ps: str | None, pe: str | None) -> bool:
    for a in accs:
        if a["suite"] != suite or a["expectation"] != expectation:
            continue
        if ps is None or (a["period_start"] <= _day(ps) and _day(pe) <= a["period_end"]):
            return True
    return False


def load_summaries(settings: Settings, con=None) -> list[dict]:
    """Every layer run's summary: the files beside the pages, else the snapshot's audit tables."""
    out: dict[str, dict] = {}
    folder = settings.home / "dq"
    if folder.is_dir():
        for path in folder.glob(f"*{SUMMARY_SUFFIX}"):
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            out[doc["run_id"]] = doc
    for doc in _snapshot_runs(con, set(out)):
        out[doc["run_id"]] = doc
    for doc in out.values():
        doc["page"] = f"{doc['run_id']}.html" if (folder / f"{doc['run_id']}.html").is_file() else None
    return sorted(out.values(), key=lambda d: (d["started_at"] or "", d["run_id"]), reverse=True)


def _finding_rank(f: dict) -> tuple:
    return (f["severity"] != "critical", -f["periods_failed"], -(f["unexpected"] or 0), f["suite"], f["expectation"])


def history_view(summaries: list[dict], acceptances: list[dict]) -> dict:
    """The runs of both layers, newest first, each with its worst open finding; the open
    findings (the latest outcome of a check is a failure nobody accepted), worst first; the
    latest run of each layer."""
    layer_runs = [s for s in summaries if s["layer"] in LAYER_ORDER]
    latest_check: dict[tuple, tuple] = {}
    for s in sorted(layer_runs, key=lambda d: (d["started_at"] or "", d["run_id"])):
        for suite, eid, ps, pe, success, severity, accepted in s["checks_list"]:
            latest_check[(suite, eid, ps, pe)] = (s["run_id"], success, accepted)
    open_keys = {
        key: run_id for key, (run_id, success, accepted) in latest_check.items()
        if not success and not accepted and not _accepted_by(acceptances, *key)
    }
    grouped: dict[tuple[str, str], dict] = {}
    worst_of_run: dict[str, dict] = {}
    for s in layer_runs:
        for f in s["findings"]:
            key = (f["suite"], f["expectation"], f["period_start"], f["period_end"])
            if open_keys.get(key) != s["run_id"]:
                continue
            g = grouped.setdefault((f["suite"], f["expectation"]), {
                "suite": f["suite"], "expectation": f["expectation"], "severity": f["severity"],
                "meaning": f["meaning"], "layer": s["layer"], "periods": [], "periods_failed": 0,
                "unexpected": 0, "observed": f["observed"], "runs": [],
            })
            g["periods"].append(_period(_day(f["period_start"]), _day(f["period_end"])))
            g["periods_failed"] += 1
            g["unexpected"] += int(f["unexpected"] or 0)
            if s["run_id"] not in [r["run_id"] for r in g["runs"]]:
                g["runs"].append({"run_id": s["run_id"], "page": s["page"]})
    findings = sorted(grouped.values(), key=_finding_rank)
    for g in findings:
        g["periods"].sort()
        for r in g["runs"]:
            current = worst_of_run.get(r["run_id"])
            if current is None or _finding_rank(g) < _finding_rank(current):
                worst_of_run[r["run_id"]] = g
    runs = []
    for s in layer_runs:
        worst = worst_of_run.get(s["run_id"])
        runs.append({k: v for k, v in s.items() if k not in ("checks_list", "findings")} | {
            "open": sum(1 for run_id in open_keys.values() if run_id == s["run_id"]),
            "worst_open": None if worst is None else {
                "suite": worst["suite"], "expectation": worst["expectation"], "severity": worst["severity"],
                "meaning": worst["meaning"], "periods_failed": worst["periods_failed"]},
        })
    latest = {}
    for layer in LAYER_ORDER:
        mine = [r for r in runs if r["layer"] == layer]
        if mine:
            latest[layer] = mine[0]
    return {
        "runs": runs,
        "latest_by_layer": [latest[layer] for layer in LAYER_ORDER if layer in latest],
        "open_findings": findings,
        "counts": {
            "runs": len(runs),
            "open_critical": sum(g["periods_failed"] for g in findings if g["severity"] == "critical"),
            "open_warnings": sum(g["periods_failed"] for g in findings if g["severity"] != "critical"),
        },
    }


def dq_history(settings: Settings, con=None) -> dict:
    """:func:`history_view` of this home (``con``: an open snapshot connection, else one is opened)."""
    if con is None:
        with snapshot_connection(settings) as own:
            return dq_history(settings, own) if own is not None else history_view(load_summaries(settings), [])
    return history_view(load_summaries(settings, con), _acceptances(con))
