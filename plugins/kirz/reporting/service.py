"""The two entry points the CLI and the scheduler call: :func:`report` and :func:`due_reports`."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from kirz.config import Settings
from kirz.reporting import deliver as delivery
from kirz.reporting.data import catalogue, has_table, open_readonly, partners_of
from kirz.reporting.energy_register import export_register
from kirz.reporting.kinds import BUILDERS
from kirz.reporting.model import L, Period, data_hash
from kirz.reporting.recipients import KINDS, Recipient, expand_auto_partners, load_definitions
from kirz.reporting.render import (Lang, VersionInfo, render_csv, render_dq_csv, render_html, render_pdf, render_xlsx,
                                   reports_root)
from kirz.reporting.schedule import correction_allowed, correction_interval, delivery_due
from kirz.reporting.versions import (
    code_version, diff_figures, export_manifests, figures_of, last_delivered, last_delivery_at, manifests, new_run_id,
    period_dir, report_versions, same_issue, stem, write_version,
)
from kirz.validation import GateBlocked, GateDecision, check_override_args, pass_gate
from kirz.warehouse import connect

log = logging.getLogger(__name__)

# report kinds that are file exports (JSON and CSV), not rendered HTML/PDF: delivered to the
# outbox only (the register is filed through its portal, not by e-mail)
EXPORTS = {"energy_register": export_register}


@dataclass
class ReportOutput:
    recipient: str
    kind: str
    period: str
    lang: str
    version: int
    new: bool  # False: no printed figure had changed ("unchanged"), this is the existing version
    html: Path
    pdf: Path
    csv: Path
    manifest: Path
    data_hash: str
    changes: int = 0
    render_s: float = 0.0
    delivered: list[str] = field(default_factory=list)
    gate: dict = field(default_factory=dict)  # the data-quality gate it was rendered under (provenance)
    xlsx: Path | None = None  # the CSV's figures with native numbers (None: a version written before there was one)
    due: date | None = None  # the day it may be delivered (set when delivery was asked for)
    held: str = ""  # why it was not delivered in this run ("" when it was, or when delivery was not asked for)

    @property
    def status(self) -> str:
        """'new' (a version was written) or 'unchanged' (nothing was written)."""
        return "new" if self.new else "unchanged"


def default_db(settings: Settings) -> Path:
    """``report_db`` from kirz.toml, else the published snapshot (``published/latest.duckdb``) when there
    is one, else the live warehouse."""
    if settings.report_db:
        return Path(settings.report_db)
    snap = settings.published_dir / "latest.duckdb"
    return snap if snap.exists() else settings.warehouse_path


def recipients_dir(settings: Settings) -> Path:
    """The setting ``recipients_dir``, else ``recipients/`` of the report assets."""
    return settings.recipients_path


class ReportError(RuntimeError):
    """Some reports failed; the others were rendered. ``outputs`` and ``failures`` say which."""

    def __init__(self, outputs: list["ReportOutput"], failures: list[str]):
        self.outputs = outputs
        self.failures = failures
        super().__init__(f"{len(failures)} report(s) failed, {len(outputs)} rendered:\n" + "\n".join(failures))


def load_recipients(settings: Settings, con=None, strict: bool = True, errors: list | None = None) -> list[Recipient]:
    """Explicit recipients plus, when a ``partners: auto`` file exists and a warehouse is open, one per partner.

    With ``strict=False`` unusable definition files are skipped and their errors appended to ``errors``.
    """
    defs = load_definitions(recipients_dir(settings), strict=strict)
    if errors is not None:
        errors.extend(defs.errors)
    if not defs.auto_partner_templates or con is None or not has_table(con, "marts", "dim_contract"):
        return list(defs.recipients)
    cat = catalogue(con)
    return expand_auto_partners(defs, list(partners_of(cat).values()), cat)


def _default_period(every: str, today: date) -> Period:
    return Period.containing(every, today).previous()


def _select(recipients: list[Recipient], recipient: str | None, all_recipients: bool,
            errors: list[str]) -> list[Recipient]:
    if all_recipients:
        return recipients
    if not recipient:
        raise ValueError("name a recipient or ask for all recipients")
    found = [r for r in recipients if r.id == recipient]
    if not found:
        broken = f"; unusable definitions: {'; '.join(errors)}" if errors else ""
        raise ValueError(f"unknown recipient {recipient!r}; known: {', '.join(sorted(r.id for r in recipients))}{broken}")
    return found


def _is_live(settings: Settings, db_path: Path) -> bool:
    return db_path.resolve() == Path(settings.warehouse_path).resolve()


def gate_provenance(decision: GateDecision) -> dict:
    """The gate a report is rendered under, for its provenance: open, or overridden with the
    override's reason, author, time and id."""
    o = decision.override
    return {
        "status": decision.status,
        "status_label": L("gate_status", decision.status),
        "reason": o["reason"] if o else None,
        "by": o["overridden_by"] if o else None,
        "when": o["decided_at"].astimezone(timezone.utc).replace(microsecond=0) if o else None,
        "override_id": o["override_id"] if o else None,
    }


def report(
    settings: Settings,
    recipient: str | None = None,
    all_recipients: bool = False,
    period: str | None = None,
    kinds=None,
    langs=None,
    deliver: bool = False,
    db: Path | str | None = None,
    today: date | None = None,
    *,
    force: bool = False,
    reason: str | None = None,
    by: str | None = None,
    now: datetime | None = None,
    record: bool = True,
) -> list[ReportOutput]:
    """Render (and optionally deliver) the reports of one recipient or all of them.

    ``period``: '2026-10', '2026-Q4' or '2026'; a recipient's report kinds that do not come in
    that kind of period are skipped. Without it, each kind gets its latest complete period
    (as of ``today``). ``kinds`` and ``langs`` narrow what the definitions ask for (``langs``
    may also add a language). ``db``: the warehouse file to read, read-only (default:
    :func:`default_db`). Unchanged data makes no new version; the existing one is returned
    with ``new=False``. A report that fails, or an unusable definition file, does not stop
    the others: they are rendered (and delivered) and then :class:`ReportError` names what failed.

    Nothing is rendered unless the data-quality gate over the days the marts of ``db`` hold is
    open (:func:`kirz.validation.pass_gate`): blocked, :class:`~kirz.validation.GateBlocked` is
    raised; ``force`` with a ``reason`` and ``by`` overrides it (recorded in the live warehouse's
    ``audit.gate_overrides``). Every report names the gate it was rendered under in its
    provenance; one rendered under an override is a version of its own.
    """
    check_override_args(force, reason, by)
    today = today or datetime.now(settings.tz).date()
    wanted_period = Period.parse(period) if period else None
    db_path = Path(db) if db else default_db(settings)
    root = reports_root(settings)
    outputs: list[ReportOutput] = []
    live = db_path.exists() and _is_live(settings, db_path)
    # an override is written where it is read when the reports read the live warehouse itself
    con = connect(db_path) if force and live else open_readonly(db_path)
    chosen: list[Recipient] = []
    failures: list[str] = []
    def_errors: list[str] = []
    try:
        chosen = _select(load_recipients(settings, con, strict=False, errors=def_errors), recipient,
                         all_recipients, def_errors)
        decision = pass_gate(con, settings.timezone, "report", force=force, reason=reason, by=by,
                             record_in=None if live else settings.warehouse_path)
        if not decision.ok:
            raise GateBlocked(decision)
        gate = gate_provenance(decision)
        if all_recipients:  # a broken definition is a failure of the run that should have covered it
            failures += def_errors
        for r in chosen:
            done: set[tuple[str, str]] = set()
            for spec in r.reports:
                if kinds and spec.kind not in kinds:
                    continue
                if wanted_period is not None:
                    if wanted_period.kind not in KINDS[spec.kind] or wanted_period.kind != spec.every:
                        continue
                    p = wanted_period
                else:
                    p = _default_period(spec.every, today)
                if (spec.kind, p.label) in done:
                    continue
                done.add((spec.kind, p.label))
                try:
                    outputs += _render_one(settings, con, db_path, root, r, spec.kind, p, tuple(langs or r.languages),
                                           gate)
                except Exception as exc:  # one broken report must not stop the others; reported below
                    log.exception("report %s %s %s failed", r.id, spec.kind, p.label)
                    failures.append(f"{r.id} {spec.kind} {p.label}: {type(exc).__name__}: {exc}")
    finally:
        con.close()
    if deliver:
        deliver_outputs(settings, outputs, root, recipients=chosen, now=now, record=record)
    if failures:
        raise ReportError(outputs, failures)
    return outputs


def _render_one(settings, con, db_path, root, r: Recipient, kind: str, p: Period, langs, gate: dict) -> list[ReportOutput]:
    if kind in EXPORTS:
        return [EXPORTS[kind](settings, con, db_path, r, p, gate, code_version=code_version())]
    build = BUILDERS[kind]
    version_str = code_version()
    data = build(con, r, p, settings, run_id="", code_version=version_str, db_path=db_path)
    data["provenance"]["gate"] = gate
    # what a version is: the figures it prints, and the gate override it was released under (the same
    # figures under an override are another statement than under an open gate)
    h = data_hash({"figures": data["figures"], "gate_override_id": gate["override_id"]})
    run_id = new_run_id(h)
    data["provenance"]["run_id"] = run_id
    folder = period_dir(settings.reports_dir, r.id, p.label)
    out = []
    for lang in langs:
        t0 = time.perf_counter()
        versions = manifests(folder, kind, lang)
        latest = versions[-1] if versions else None
        if latest and (latest["data_hash"] == h or same_issue(latest, data["figures"], gate["override_id"])):
            base_name = stem(kind, lang, latest["version"])
            xlsx = folder / f"{base_name}.xlsx"
            log.info("report %s %s %s %s unchanged: v%s stands", r.id, kind, p.label, lang, latest["version"])
            out.append(ReportOutput(r.id, kind, p.label, lang, latest["version"], False,
                                    folder / f"{base_name}.html", folder / f"{base_name}.pdf",
                                    folder / f"{base_name}.csv", Path(latest["_path"]), latest["data_hash"],
                                    len(latest.get("changes") or []), gate=gate,
                                    xlsx=xlsx if xlsx.exists() else None))
            continue
        n = (latest["version"] + 1) if latest else 1
        # the change list is against what the recipient has: the version delivered last (a preview that
        # never went out is replaced silently)
        base = last_delivered(versions)
        changes = diff_figures(figures_of(base), data["figures"]) if base else None
        delivered_at = None
        if base and base.get("deliveries"):
            delivered_at = datetime.fromisoformat(base["deliveries"][0]["at"])
        info = VersionInfo(n, datetime.now(timezone.utc), base["version"] if base else None, delivered_at, changes)
        html = render_html(data, lang, info, root)
        pdf = render_pdf(html)
        csv_text = render_csv(data, lang, root)
        xlsx_bytes = render_xlsx(data, lang, root)
        manifest = {
            "recipient": r.id, "recipient_name": r.name, "kind": kind, "lang": lang, "period": p.label,
            "version": n, "data_hash": h, "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "run_id": run_id, "code_version": version_str, "warehouse": str(db_path),
            "scope": r.scope.to_json(),
            "base_version": base["version"] if base else None,
            "changes": [(new or old).key for old, new in (changes or [])],
            "dq_run_ids": data["provenance"]["dq_run_ids"],
            "gate": {"status": gate["status"], "override_id": gate["override_id"], "reason": gate["reason"],
                     "by": gate["by"], "when": gate["when"].isoformat() if gate["when"] else None},
            "inputs": data["provenance"]["input_files"],
            "figures": {f.key: f.to_json() for f in data["figures"]},
        }
        files = {"html": html.encode("utf-8"), "pdf": pdf, "csv": csv_text.encode("utf-8"), "xlsx": xlsx_bytes}
        if data["dq"]["available"]:  # the full list of checks the report's data-quality summary refers to
            files["dq.csv"] = render_dq_csv(data, lang, root).encode("utf-8")
        paths = write_version(folder, kind, lang, n, files, manifest)
        out.append(ReportOutput(r.id, kind, p.label, lang, n, True, paths["html"], paths["pdf"], paths["csv"],
                                paths["manifest"], h, len(changes or []), time.perf_counter() - t0, gate=gate,
                                xlsx=paths["xlsx"]))
    return out


def _versions_of(settings: Settings, o: ReportOutput) -> list[dict]:
    folder = period_dir(settings.reports_dir, o.recipient, o.period)
    if o.kind in EXPORTS:
        return export_manifests(folder, o.kind)
    return manifests(folder, o.kind, o.lang)


def _recipients_for_delivery(settings: Settings, db: Path | str | None = None) -> list[Recipient]:
    con = None
    db_path = Path(db) if db else default_db(settings)
    try:
        con = open_readonly(db_path) if db_path.exists() else None
    except Exception:  # a locked or missing warehouse only costs the auto-partner recipients
        con = None
    try:
        return load_recipients(settings, con, strict=False)
    finally:
        if con is not None:
            con.close()


def _may_go_out(settings: Settings, o: ReportOutput, r: Recipient | None, now: datetime) -> tuple[bool, bool, int]:
    """(deliverable now, is a correction, changed figures) for the latest version ``o``; sets
    ``o.due`` and, when it has to wait, ``o.held``."""
    p = Period.parse(o.period)
    if r is None:
        o.held = f"recipient {o.recipient} is not defined (any more): not delivered"
        return False, False, 0
    o.due = delivery_due(r, o.kind, p)
    versions = _versions_of(settings, o)
    this = next((v for v in versions if v["version"] == o.version), None)
    earlier = [v for v in versions if v["version"] < o.version]
    correction = any(v.get("deliveries") for v in earlier)
    changes = len((this or {}).get("changes") or []) if correction else 0
    if this is not None and this.get("deliveries"):
        return True, correction, changes  # already out: only channels it has not gone through yet
    today = now.astimezone(settings.tz).date()
    if today < o.due:
        o.held = f"preview: due on {o.due.isoformat()}"
        return False, correction, changes
    if correction:
        last = last_delivery_at(earlier)
        interval = correction_interval(r, o.kind, p)
        if not correction_allowed(last, now, interval):
            o.held = (f"correction pending: the last delivery was {last.isoformat()}; corrections go out at most "
                      f"every {interval} days")
            return False, correction, changes
    return True, correction, changes


def deliver_outputs(settings: Settings, outputs: list[ReportOutput], root: Path | None = None,
                    recipients: list[Recipient] | None = None, now: datetime | None = None,
                    record: bool = True) -> None:
    """Deliver what is due of ``outputs`` (each the latest version of its report): to the outbox
    and, where configured, one e-mail per recipient for the versions not yet sent.

    A report goes out on or after its due day (:func:`kirz.reporting.schedule.delivery_due`);
    before, it is a preview (``held``). A version is delivered once per channel. A correction (a
    newer version after one was delivered) goes out once, with its change list, and not sooner
    than the recipient's ``correction_interval_days`` after the last delivery. Each delivery is
    recorded in the version's manifest and, with ``record``, in ``audit.report_deliveries`` of the
    live warehouse (:func:`kirz.reporting.audit.record_deliveries`; when another process holds
    the warehouse the rows are written by the next sync).
    """
    now = now or datetime.now(timezone.utc)
    root = root or reports_root(settings)
    outbox = settings.home / "outbox"
    if recipients is None:
        recipients = _recipients_for_delivery(settings)
    by_id = {r.id: r for r in recipients}
    ready: list[tuple[ReportOutput, bool, int]] = []
    for o in outputs:
        ok, correction, changes = _may_go_out(settings, o, by_id.get(o.recipient), now)
        if not ok:
            log.info("report %s %s %s %s v%s not delivered: %s", o.recipient, o.kind, o.period, o.lang, o.version,
                     o.held)
            continue
        ready.append((o, correction, changes))
        if delivery.to_outbox(outbox, o, at=now, correction=correction, changes=changes):
            o.delivered.append("outbox")
    cfg = delivery.smtp_config(settings)
    if cfg is not None:
        grouped: dict[str, list[tuple[ReportOutput, bool, int]]] = {}
        for item in ready:
            if item[0].kind not in EXPORTS:
                grouped.setdefault(item[0].recipient, []).append(item)
        for rid, items in grouped.items():
            r = by_id[rid]
            strings = Lang(r.languages[0], root).s
            sent = delivery.email_outputs(cfg, r, [o for o, _, _ in items], strings, at=now,
                                          corrections={id(o): (c, n) for o, c, n in items})
            for o in sent:
                o.delivered.append("smtp")
    if record and any(o.delivered for o in outputs):
        from kirz.reporting.audit import record_deliveries_in

        record_deliveries_in(settings)


def latest_versions(settings: Settings) -> list[ReportOutput]:
    """The latest version of every report on disk (each recipient, kind, period and language)."""
    out = []
    for recipient, period, kind, lang, docs in report_versions(Path(settings.reports_dir)):
        doc, folder = docs[-1], period_dir(settings.reports_dir, recipient, period)
        n = doc["version"]
        if lang is None:  # a file export: <kind>.v<N>.json and .csv
            out.append(ReportOutput(recipient, kind, period, doc.get("lang") or "de", n, False, None,
                                    folder / f"{kind}.v{n}.json", folder / f"{kind}.v{n}.csv",
                                    Path(doc["_path"]), doc["data_hash"]))
            continue
        base = folder / stem(kind, lang, n)
        xlsx = Path(f"{base}.xlsx")
        out.append(ReportOutput(recipient, kind, period, lang, n, False, Path(f"{base}.html"), Path(f"{base}.pdf"),
                                Path(f"{base}.csv"), Path(doc["_path"]), doc["data_hash"],
                                len(doc.get("changes") or []), xlsx=xlsx if xlsx.exists() else None))
    return out


def deliver_due(settings: Settings, now: datetime | None = None, record: bool = True,
                db: Path | str | None = None) -> list[ReportOutput]:
    """Deliver every report on disk that has become due and is not out yet (rendered earlier as a
    preview, or a correction held back by the interval): what the daily delivery runs, without
    rendering anything. The outputs, each with ``delivered`` or the reason it is ``held``.
    ``db``: where the partners of a ``partners: auto`` file are read (default :func:`default_db`)."""
    outputs = latest_versions(settings)
    deliver_outputs(settings, outputs, now=now, record=record,
                    recipients=_recipients_for_delivery(settings, db))
    return outputs


def due_reports(settings: Settings, as_of: date, db: Path | str | None = None) -> list[tuple[str, str, str]]:
    """(recipient, kind, period) due as of a local day: the latest complete month, quarter or
    year, when that period has data (``reporting.rpt_period_coverage``).

    The scheduler may call this every day: :func:`report` makes no new version for a period
    whose data did not change, and delivery sends a version once.
    """
    db_path = Path(db) if db else default_db(settings)
    con = open_readonly(db_path) if db_path.exists() else None
    errors: list[str] = []
    with_data: set[tuple[str, str]] | None = None
    try:
        recips = load_recipients(settings, con, strict=False, errors=errors)
        if con is not None and has_table(con, "reporting", "rpt_period_coverage"):
            with_data = set(con.execute("select period_type, period from reporting.rpt_period_coverage").fetchall())
    finally:
        if con is not None:
            con.close()
    for e in errors:
        log.warning("recipient definition skipped: %s", e)
    out = []
    for r in recips:
        for spec in r.reports:
            period = _default_period(spec.every, as_of)
            if with_data is not None and (period.kind, period.label) not in with_data:
                continue
            item = (r.id, spec.kind, period.label)
            if item not in out:
                out.append(item)
    return out
