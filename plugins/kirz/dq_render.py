"""The HTML page of a validation run: ``<home>/dq/<run_id>.html`` and ``<home>/dq/latest.html``.

The page is built from plain data (``run_view``) and rendered by a Jinja2 template with
autoescape and StrictUndefined; the template only presents.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from kirz.config import REPORT_ASSETS_DIR, Settings

TEMPLATE = "dq_run.html.j2"
MAX_FAILURES_LISTED = 200


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


def render_html(view: dict, settings: Settings | None = None) -> str:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(str(templates_dir(settings))),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template(TEMPLATE).render(run=view)


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
    run.html_path = page
    return page
