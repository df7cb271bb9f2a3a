"""``audit.report_deliveries``: what went to whom, when, by which channel, with each file's checksum.

The versions' manifests are the record of every delivery (:func:`kirz.reporting.versions.record_delivery`
writes one entry per channel with the files sent); this table is their queryable copy in the live
warehouse, one row per delivered file. :func:`record_deliveries` adds the rows the table lacks, so
it may run any time and as often as wanted. Delivery itself never waits for the warehouse: DuckDB
admits one writing process, so a delivery made while another process holds the warehouse (the
transform, an ingest) stays in the manifests until the next sync (the publish DAG's
``record_deliveries`` task runs in the warehouse pool after every delivery).
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from kirz.warehouse import open_warehouse

log = logging.getLogger(__name__)

COLUMNS = ("recipient_id", "kind", "period", "lang", "version", "channel", "address", "delivered_at",
           "file_name", "sha256", "is_correction", "changes")
# <kind>.<lang>.v<N>.json (rendered reports) and <kind>.v<N>.manifest.json (file exports)
_MANIFEST_RE = re.compile(r"^[a-z_]+\.(?:[a-z]{2}\.v\d+\.json|v\d+\.manifest\.json)$")


def _manifest_paths(reports_dir: Path):
    root = Path(reports_dir)
    if not root.exists():
        return
    for recipient in sorted(p for p in root.iterdir() if p.is_dir()):
        for period in sorted(p for p in recipient.iterdir() if p.is_dir()):
            for p in sorted(period.iterdir()):
                if _MANIFEST_RE.match(p.name):
                    yield p


def _files_of(doc: dict, entry: dict) -> list[dict]:
    """The files of one delivery entry; entries written before they listed their files are
    read from the version's checksums (the outbox got every file, an e-mail the PDF and HTML)."""
    if "files" in entry:
        return entry["files"]
    sums = doc.get("files") or {}
    names = [n for n in sums if entry["channel"] == "outbox" or n.endswith((".pdf", ".html"))]
    return [{"file": f"{doc['period']}.{n}", "sha256": sums[n]} for n in names]


def delivery_rows(reports_dir: Path) -> list[dict]:
    """One row per delivered file over every version's manifest under ``reports_dir``.

    A manifest that cannot be read is skipped with a warning naming it (one broken file must not
    hide the other deliveries)."""
    out = []
    for path in _manifest_paths(reports_dir):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if "deliveries" not in doc or "version" not in doc:
                continue
            for entry in doc["deliveries"]:
                to = entry.get("to")
                address = ", ".join(to) if isinstance(to, list) else str(to or "")
                at = datetime.fromisoformat(entry["at"])
                for f in _files_of(doc, entry):
                    out.append({
                        "recipient_id": doc.get("recipient") or path.parent.parent.name,
                        "kind": doc["kind"], "period": doc.get("period") or path.parent.name,
                        "lang": entry.get("lang") or doc.get("lang"), "version": int(doc["version"]),
                        "channel": entry["channel"], "address": address,
                        "delivered_at": at if at.tzinfo else at.replace(tzinfo=timezone.utc),
                        "file_name": f["file"], "sha256": f["sha256"],
                        "is_correction": bool(entry.get("correction", False)), "changes": int(entry.get("changes", 0)),
                    })
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("%s: delivery record skipped, manifest unreadable: %s: %s", path, type(exc).__name__, exc)
    return out


def record_deliveries(con, reports_dir: Path) -> int:
    """Add to ``audit.report_deliveries`` the delivered files it does not hold yet; how many were added."""
    rows = delivery_rows(reports_dir)
    if not rows:
        return 0
    key = ("recipient_id", "kind", "period", "lang", "version", "channel", "file_name", "delivered_at")
    have = {tuple(r) for r in con.execute(f"select {', '.join(key)} from audit.report_deliveries").fetchall()}
    new = [r for r in rows if tuple(r[k] for k in key) not in have]
    if new:
        con.executemany(
            f"insert into audit.report_deliveries ({', '.join(COLUMNS)}) values ({', '.join('?' * len(COLUMNS))})",
            [[r[c] for c in COLUMNS] for r in new],
        )
    return len(new)


def record_deliveries_in(settings, strict: bool = False) -> int | None:
    """:func:`record_deliveries` into the live warehouse of ``settings``; ``None`` (and a warning)
    when another process holds it: the rows are added by the next sync. ``strict`` (a task in the
    warehouse pool, which may retry): the lock error is raised."""
    try:
        with open_warehouse(settings.warehouse_path) as con:
            return record_deliveries(con, settings.reports_dir)
    except duckdb.IOException as exc:
        if strict:
            raise
        log.warning("audit.report_deliveries not updated now, the warehouse %s is held by another process (%s); "
                    "the deliveries are in the manifests and the next sync records them",
                    settings.warehouse_path, exc)
        return None
