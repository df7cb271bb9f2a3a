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
from kirz.reporting.render import Lang, VersionInfo, render_csv, render_html, render_pdf, render_xlsx, reports_root
from kirz.reporting.versions import (
    code_version, diff_figures, figures_of, last_delivered, manifests, new_run_id, period_dir, stem, write_version,
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
    new: bool  # False: the data had not changed, this is the existing version
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
        deliver_outputs(settings, outputs, root, recipients=chosen)
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
    # the same figures released under an override are another statement than under an open gate
    h = data_hash({**data, "gate_override_id": gate["override_id"]} if gate["override_id"] else data)
    run_id = new_run_id(h)
    data["provenance"]["run_id"] = run_id
    folder = period_dir(settings.reports_dir, r.id, p.label)
    out = []
    for lang in langs:
        t0 = time.perf_counter()
        versions = manifests(folder, kind, lang)
        latest = versions[-1] if versions else None
        if latest and latest["data_hash"] == h:
            base_name = stem(kind, lang, latest["version"])
            xlsx = folder / f"{base_name}.xlsx"
            out.append(ReportOutput(r.id, kind, p.label, lang, latest["version"], False,
                                    folder / f"{base_name}.html", folder / f"{base_name}.pdf",
                                    folder / f"{base_name}.csv", Path(latest["_path"]), h, gate=gate,
                                    xlsx=xlsx if xlsx.exists() else None))
            continue
        n = (latest["version"] + 1) if latest else 1
        base = last_delivered(versions) or latest
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
        paths = write_version(folder, kind, lang, n, {"html": html.encode("utf-8"), "pdf": pdf,
                                                       "csv": csv_text.encode("utf-8"), "xlsx": xlsx_bytes},
                              manifest)
        out.append(ReportOutput(r.id, kind, p.label, lang, n, True, paths["html"], paths["pdf"], paths["csv"],
                                paths["manifest"], h, len(changes or []), time.perf_counter() - t0, gate=gate,
                                xlsx=paths["xlsx"]))
    return out


def deliver_outputs(settings: Settings, outputs: list[ReportOutput], root: Path | None = None,
                    recipients: list[Recipient] | None = None) -> None:
    """Outbox for every output; one e-mail per recipient for the versions not yet sent."""
    root = root or reports_root(settings)
    outbox = settings.home / "outbox"
    for o in outputs:
        delivery.to_outbox(outbox, o)
        o.delivered.append("outbox")
    cfg = delivery.smtp_config(settings)
    if cfg is None:
        return
    if recipients is None:
        con = None
        db_path = default_db(settings)
        try:
            con = open_readonly(db_path) if db_path.exists() else None
        except Exception:  # a locked or missing warehouse only costs the auto-partner e-mail addresses
            con = None
        try:
            recipients = load_recipients(settings, con, strict=False)
        finally:
            if con is not None:
                con.close()
    by_id = {r.id: r for r in recipients}
    grouped: dict[str, list[ReportOutput]] = {}
    for o in outputs:
        if o.kind not in EXPORTS:
            grouped.setdefault(o.recipient, []).append(o)
    for rid, outs in grouped.items():
        r = by_id.get(rid)
        if r is None:
            continue
        strings = Lang(r.languages[0], root).s
        sent = [o for o in outs if not delivery.delivered_via(o.manifest, "smtp")]
        if delivery.email_outputs(cfg, r, outs, strings):
            for o in sent:
                o.delivered.append("smtp")


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
