"""The two entry points the CLI and the scheduler call: :func:`report` and :func:`due_reports`."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from kirz.config import Settings
from kirz.reporting import deliver as delivery
from kirz.reporting.data import BUILDERS, catalogue, has_table, open_readonly, partners_of
from kirz.reporting.model import Period, data_hash
from kirz.reporting.recipients import KINDS, Recipient, expand_auto_partners, load_definitions
from kirz.reporting.render import Lang, VersionInfo, render_csv, render_html, render_pdf, reports_root
from kirz.reporting.versions import (
    code_version, diff_figures, figures_of, last_delivered, manifests, new_run_id, period_dir, stem, write_version,
)

log = logging.getLogger(__name__)


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


def default_db(settings: Settings) -> Path:
    """``report_db`` from kirz.toml, else the published snapshot (``published/latest.duckdb``) when there
    is one, else the live warehouse."""
    extra = settings.extra or {}
    if extra.get("report_db"):
        return Path(extra["report_db"])
    snap = settings.published_dir / "latest.duckdb"
    return snap if snap.exists() else settings.warehouse_path


def recipients_dir(settings: Settings) -> Path:
    """``recipients_dir`` from kirz.toml, else ``recipients/`` beside the templates."""
    extra = settings.extra or {}
    return Path(extra["recipients_dir"]) if extra.get("recipients_dir") else reports_root(settings) / "recipients"


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
) -> list[ReportOutput]:
    """Render (and optionally deliver) the reports of one recipient or all of them.

    ``period``: '2026-10', '2026-Q4' or '2026'; a recipient's report kinds that do not come in
    that kind of period are skipped. Without it, each kind gets its latest complete period
    (as of ``today``). ``kinds`` and ``langs`` narrow what the definitions ask for (``langs``
    may also add a language). ``db``: the warehouse file to read, read-only (default:
    :func:`default_db`). Unchanged data makes no new version; the existing one is returned
    with ``new=False``. A report that fails, or an unusable definition file, does not stop
    the others: they are rendered (and delivered) and then :class:`ReportError` names what failed.
    """
    today = today or datetime.now(settings.tz).date()
    wanted_period = Period.parse(period) if period else None
    db_path = Path(db) if db else default_db(settings)
    root = reports_root(settings)
    outputs: list[ReportOutput] = []
    con = open_readonly(db_path)
    chosen: list[Recipient] = []
    failures: list[str] = []
    def_errors: list[str] = []
    try:
        chosen = _select(load_recipients(settings, con, strict=False, errors=def_errors), recipient,
                         all_recipients, def_errors)
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
                    outputs += _render_one(settings, con, db_path, root, r, spec.kind, p, tuple(langs or r.languages))
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


def _render_one(settings, con, db_path, root, r: Recipient, kind: str, p: Period, langs) -> list[ReportOutput]:
    build = BUILDERS[kind]
    version_str = code_version()
    data = build(con, r, p, settings, run_id="", code_version=version_str, db_path=db_path)
    h = data_hash(data)
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
            out.append(ReportOutput(r.id, kind, p.label, lang, latest["version"], False,
                                    folder / f"{base_name}.html", folder / f"{base_name}.pdf",
                                    folder / f"{base_name}.csv", Path(latest["_path"]), h))
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
        manifest = {
            "recipient": r.id, "recipient_name": r.name, "kind": kind, "lang": lang, "period": p.label,
            "version": n, "data_hash": h, "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "run_id": run_id, "code_version": version_str, "warehouse": str(db_path),
            "scope": r.scope.to_json(),
            "base_version": base["version"] if base else None,
            "changes": [(new or old).key for old, new in (changes or [])],
            "dq_run_ids": data["provenance"]["dq_run_ids"],
            "inputs": data["provenance"]["input_files"],
            "figures": {f.key: f.to_json() for f in data["figures"]},
        }
        paths = write_version(folder, kind, lang, n, {"html": html.encode("utf-8"), "pdf": pdf,
                                                       "csv": csv_text.encode("utf-8")}, manifest)
        out.append(ReportOutput(r.id, kind, p.label, lang, n, True, paths["html"], paths["pdf"], paths["csv"],
                                paths["manifest"], h, len(changes or []), time.perf_counter() - t0))
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
    """(recipient, kind, period) due as of a local day: the latest complete month, quarter or year.

    The scheduler may call this every day: :func:`report` makes no new version for a period
    whose data did not change, and delivery sends a version once.
    """
    db_path = Path(db) if db else default_db(settings)
    con = open_readonly(db_path) if db_path.exists() else None
    errors: list[str] = []
    try:
        recips = load_recipients(settings, con, strict=False, errors=errors)
    finally:
        if con is not None:
            con.close()
    for e in errors:
        log.warning("recipient definition skipped: %s", e)
    out = []
    for r in recips:
        for spec in r.reports:
            item = (r.id, spec.kind, _default_period(spec.every, as_of).label)
            if item not in out:
                out.append(item)
    return out
