"""The report register of the operator console: every report version on disk, grouped.

A version is ``<home>/reports/<recipient>/<period>/<kind>.<lang>.v<N>.{html,pdf,csv,xlsx}`` with its
manifest ``<kind>.<lang>.v<N>.json`` (read through :mod:`kirz.reporting.versions`); the register
export is ``<kind>.v<N>.{json,csv}`` with ``<kind>.v<N>.manifest.json`` and no language.

:func:`report_register` groups them by recipient and period; within a group one entry per
kind and language, its latest version first and the older ones after it. Each entry has a state:

- ``preview``: rendered before its due day (the delivery rule of the recipient file,
  :func:`kirz.reporting.schedule.delivery_due`), nothing delivered yet;
- ``due``: the due day has come and nothing was delivered;
- ``delivered``: the latest version was delivered;
- ``correction pending``: an older version was delivered, the latest one not yet.

A report whose recipient is no longer defined has no due day and counts as due until delivered.

Deliveries come from ``audit.report_deliveries`` of the latest published snapshot and from the
manifests (a delivery is recorded in the version's manifest when it is made, so one made after
the last publish is seen too). The live warehouse is never opened: a DuckDB reader would block
the pipeline's writers. The data-quality verdict of a version is the gate it was rendered under
and the validation runs of its data (the manifest's ``dq_run_ids``), looked up in the
data-quality history (:func:`kirz.dq_render.load_summaries`).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from pathlib import Path

from kirz.config import Settings
from kirz.reporting.versions import report_versions

STATES = ("preview", "due", "delivered", "correction pending")
TITLES = {
    "partner_statement": "Usage statement",
    "funder_impact": "Impact report",
    "energy_annual": "Annual data-centre energy report",
    "energy_register": "Register of data centres: export",
}
FORMAT_ORDER = ("html", "pdf", "csv", "xlsx", "json")
# what a file is called in the register: its name after the version (``dq.csv`` of ``x.de.v2.dq.csv``)
_FILE_LABEL_RE = re.compile(r"\.v\d+\.(.+)$")


def _iso(value) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, (date, datetime)) else str(value)


def _snapshot_deliveries(con) -> list[dict]:
    from kirz.dq_render import _dicts, _has_table

    if con is None or not _has_table(con, "audit", "report_deliveries"):
        return []
    return _dicts(con, "select * from audit.report_deliveries order by delivered_at, delivery_id")


def _recipients(settings: Settings, con) -> dict:
    from kirz.reporting.service import load_recipients

    try:
        return {r.id: r for r in load_recipients(settings, con, strict=False)}
    except Exception:  # an unreadable recipients folder costs the due days only
        return {}


def _due_day(recipient, kind: str, period_label: str) -> date | None:
    """The recipient file's delivery day of this report (None: the recipient is not defined any more)."""
    from kirz.reporting.model import Period
    from kirz.reporting.schedule import delivery_due

    if recipient is None:
        return None
    period = Period.parse(period_label)
    spec = next((s for s in recipient.reports if s.kind == kind and s.every == period.kind), kind)
    return delivery_due(recipient, spec, period)


def _files(reports_dir: Path, recipient: str, period: str, doc: dict) -> list[dict]:
    folder = reports_dir / recipient / period
    out = []
    for name, sha in (doc.get("files") or {}).items():
        path = folder / name
        fmt = name.rsplit(".", 1)[-1]
        m = _FILE_LABEL_RE.search(name)
        out.append({
            "name": name, "format": fmt, "label": m[1] if m else fmt, "sha256": sha,
            "href": f"reports/{recipient}/{period}/{name}",
            "bytes": path.stat().st_size if path.is_file() else None,
        })
    out.sort(key=lambda f: (FORMAT_ORDER.index(f["format"]) if f["format"] in FORMAT_ORDER else 99, f["label"] != f["format"],
                            f["name"]))
    return out


def _utc(value) -> str | None:
    """A time (datetime or ISO text) as UTC ISO text to the second; naive times are UTC."""
    if value is None:
        return None
    t = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    t = t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).isoformat(timespec="seconds")


def _deliveries(doc: dict, rows: list[dict]) -> list[dict]:
    """The version's deliveries, one per channel and time, with the files sent and their checksums.

    The manifest records every delivery when it is made; ``audit.report_deliveries`` (one row per
    file, in the snapshot as of its publication) is its queryable copy: ``in_audit`` says whether
    the snapshot holds it yet. A delivery found only in the table is listed too."""
    out: dict[tuple[str, str | None], dict] = {}
    for entry in doc.get("deliveries") or []:
        to = entry.get("to")
        key = (entry.get("channel"), _utc(entry.get("at")))
        out[key] = {
            "channel": entry.get("channel"), "address": ", ".join(to) if isinstance(to, list) else to,
            "delivered_at": key[1],
            "files": [{"name": f["file"], "sha256": f["sha256"]} for f in entry.get("files") or []],
            "is_correction": bool(entry.get("correction", False)), "changes": entry.get("changes"),
            "in_audit": False,
        }
    for r in rows:
        key = (r["channel"], _utc(r["delivered_at"]))
        d = out.setdefault(key, {
            "channel": r["channel"], "address": r["address"], "delivered_at": key[1], "files": [],
            "is_correction": bool(r["is_correction"]), "changes": r["changes"], "in_audit": True,
        })
        d["in_audit"] = True
        if r["file_name"] not in [f["name"] for f in d["files"]]:
            d["files"].append({"name": r["file_name"], "sha256": r["sha256"]})
    return sorted(out.values(), key=lambda d: (d["delivered_at"] or "", d["channel"] or ""))


def _dq_verdict(doc: dict, runs: dict[str, dict]) -> dict:
    """The data-quality verdict of the data a version was rendered from: 'overridden' (a blocked
    gate let through), else, the gate being open, 'passed' when every validation run of its data
    passed and 'warning' when one had findings that did not block; 'gate open' when the runs are
    unknown here (a version without run ids, or runs no longer on record)."""
    gate = doc.get("gate") or {}
    if not isinstance(gate, dict):  # the register export of older versions kept the status alone
        gate = {"status": gate, "override_id": doc.get("gate_override_id")}
    listed = []
    for run_id in doc.get("dq_run_ids") or []:
        s = runs.get(run_id)
        listed.append({
            "run_id": run_id, "layer": s["layer"] if s else None, "status": s["status"] if s else None,
            "window": s["window"] if s else None, "warnings": s["warnings"] if s else None,
            "critical": s["critical"] if s else None, "accepted": s["accepted"] if s else None,
            "page": f"dq/{s['page']}" if s and s["page"] else None,
        })
    known = [r["status"] for r in listed if r["status"]]
    if gate.get("status") == "overridden":
        verdict = "overridden"
    elif gate.get("status") != "open":
        verdict = "unknown"
    elif known:
        verdict = "passed" if all(st == "passed" for st in known) else "warning"
    else:
        verdict = "gate open"
    return {
        "verdict": verdict, "gate": gate.get("status"), "override_id": gate.get("override_id"),
        "override_reason": gate.get("reason"),
        "warehouse": Path(doc["warehouse"]).name if doc.get("warehouse") else None,
        "runs": listed,
    }


def _version_view(reports_dir: Path, recipient: str, period: str, doc: dict, rows: list[dict],
                  runs: dict[str, dict]) -> dict:
    return {
        "version": doc["version"],
        "created_at": doc.get("created_at"),
        "base_version": doc.get("base_version"),
        "changes": len(doc.get("changes") or []),
        "data_hash": doc.get("data_hash"),
        "code_version": doc.get("code_version"),
        "files": _files(reports_dir, recipient, period, doc),
        "deliveries": _deliveries(doc, rows),
        "dq": _dq_verdict(doc, runs),
    }


def _state(latest: dict, older: list[dict], due: date | None, today: date) -> str:
    if latest["deliveries"]:
        return "delivered"
    if any(v["deliveries"] for v in older):
        return "correction pending"
    if due is not None and today < due:
        return "preview"
    return "due"


def report_register(settings: Settings, today: date | None = None, *, con=None) -> list[dict]:
    """The register: one group per recipient and period (recipients by id, newest period first),
    one entry per report kind and language with its versions, latest first."""
    from kirz.dq_render import snapshot_connection

    if con is None:
        with snapshot_connection(settings) as own:
            return report_register(settings, today, con=own) if own is not None else _register(settings, today, None)
    return _register(settings, today, con)


def _register(settings: Settings, today: date | None, con) -> list[dict]:
    from kirz.dq_render import load_summaries

    today = today or datetime.now(settings.tz).date()
    reports_dir = settings.reports_dir
    found = report_versions(reports_dir)
    if not found:
        return []
    runs = {s["run_id"]: s for s in load_summaries(settings, con)}
    recipients = _recipients(settings, con)
    by_version: dict[tuple, list[dict]] = {}
    for row in _snapshot_deliveries(con):
        by_version.setdefault((row["recipient_id"], row["kind"], row["period"], row["version"]), []).append(row)
    groups: dict[tuple[str, str], dict] = {}
    for recipient, period, kind, lang, docs in found:
        views = []
        for doc in reversed(docs):
            rows = [r for r in by_version.get((recipient, kind, period, doc["version"]), [])
                    if lang is None or r["lang"] in (lang, None)]
            views.append(_version_view(reports_dir, recipient, period, doc, rows, runs))
        latest, older = views[0], views[1:]
        due = _due_day(recipients.get(recipient), kind, period)
        name = docs[-1].get("recipient_name") or getattr(recipients.get(recipient), "name", None) or recipient
        g = groups.setdefault((recipient, period), {
            "recipient": recipient, "recipient_name": name, "period": period, "reports": []})
        g["reports"].append({
            "kind": kind, "lang": lang, "title": f"{TITLES.get(kind, kind.replace('_', ' '))} {period}",
            "state": _state(latest, older, due, today), "due": _iso(due),
            "versions": len(views), "latest": latest, "older": older,
        })
    ordered = sorted(groups.values(), key=lambda g: g["period"], reverse=True)
    ordered.sort(key=lambda g: g["recipient"])
    for g in ordered:
        g["reports"].sort(key=lambda r: (r["kind"], r["lang"] or ""))
        g["states"] = {s: sum(1 for r in g["reports"] if r["state"] == s) for s in STATES}
    return ordered


def register_counts(groups: list[dict]) -> dict:
    """Totals over the register: groups, reports (kind and language), versions, reports by state."""
    reports = [r for g in groups for r in g["reports"]]
    return {
        "groups": len(groups), "reports": len(reports), "versions": sum(r["versions"] for r in reports),
        "states": {s: sum(1 for r in reports if r["state"] == s) for s in STATES},
    }
