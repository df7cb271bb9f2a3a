"""Delivery: an outbox folder per recipient and, where configured, one e-mail per recipient.

SMTP comes from ``[smtp]`` in kirz.toml (``settings.extra['smtp']``: host, port, from,
starttls, user, password) or from ``KIRZ_SMTP_HOST`` / ``KIRZ_SMTP_PORT`` / ``KIRZ_SMTP_FROM``
(plus optional ``KIRZ_SMTP_USER``, ``KIRZ_SMTP_PASSWORD``, ``KIRZ_SMTP_STARTTLS``). Each version
is sent once: the send is recorded in its manifest (with each file's name and checksum) and a
version already recorded is skipped. One e-mail per recipient carries the PDF and HTML of every
version not yet sent. When a report is due is decided by :mod:`kirz.reporting.schedule`.
"""

from __future__ import annotations

import json
import os
import shutil
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from kirz.reporting.versions import delivered_via, record_delivery


@dataclass
class SmtpConfig:
    host: str
    port: int
    sender: str
    starttls: bool = False
    user: str | None = None
    password: str | None = None


def smtp_config(settings, env: dict | None = None) -> SmtpConfig | None:
    env = os.environ if env is None else env
    cfg = dict((getattr(settings, "extra", None) or {}).get("smtp") or {})
    host = cfg.get("host") or env.get("KIRZ_SMTP_HOST")
    if not host:
        return None
    sender = cfg.get("from") or env.get("KIRZ_SMTP_FROM")
    if not sender:
        raise ValueError("SMTP is configured without a sender: set smtp.from in kirz.toml or KIRZ_SMTP_FROM")
    starttls = cfg.get("starttls", env.get("KIRZ_SMTP_STARTTLS", False))
    if isinstance(starttls, str):
        starttls = starttls.lower() in ("1", "true", "yes", "on")
    return SmtpConfig(
        host=str(host), port=int(cfg.get("port") or env.get("KIRZ_SMTP_PORT") or 25), sender=str(sender),
        starttls=bool(starttls), user=cfg.get("user") or env.get("KIRZ_SMTP_USER"),
        password=cfg.get("password") or env.get("KIRZ_SMTP_PASSWORD"),
    )


def version_files(output) -> list[Path]:
    """Every file of the version, in the order its manifest lists them (the output's own paths for a
    manifest without a file list)."""
    doc = json.loads(Path(output.manifest).read_text(encoding="utf-8"))
    folder = Path(output.manifest).parent
    if doc.get("files"):
        return [folder / name for name in doc["files"]]
    return [Path(p) for p in (output.html, output.pdf, output.csv, output.xlsx) if p is not None]


def to_outbox(outbox_root: Path, output, at=None, correction: bool = False, changes: int = 0) -> list[Path]:
    """Copy every file of a version to ``<outbox>/<recipient>/`` and record the delivery in its
    manifest, once: the files delivered now, or [] when the version was in the outbox already."""
    if delivered_via(output.manifest, "outbox"):
        return []
    folder = Path(outbox_root) / output.recipient
    folder.mkdir(parents=True, exist_ok=True)
    copied = []
    for p in version_files(output):
        dest = folder / f"{output.period}.{Path(p).name}"
        shutil.copyfile(p, dest)
        copied.append(dest)
    record_delivery(output.manifest, "outbox", str(folder), at, files=copied, correction=correction,
                    changes=changes, lang=output.lang)
    return copied


def build_message(cfg: SmtpConfig, to: list[str], subject: str, body: str, outputs) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = cfg.sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=cfg.sender.split("@")[-1] or "kirz.local")
    msg.set_content(body)
    for o in outputs:
        msg.add_attachment(Path(o.pdf).read_bytes(), maintype="application", subtype="pdf",
                           filename=f"{o.period}.{Path(o.pdf).name}")
        msg.add_attachment(Path(o.html).read_text(encoding="utf-8"), subtype="html",
                           filename=f"{o.period}.{Path(o.html).name}")
    return msg


def send_email(cfg: SmtpConfig, msg: EmailMessage, timeout: float = 30.0) -> None:
    with smtplib.SMTP(cfg.host, cfg.port, timeout=timeout) as smtp:
        if cfg.starttls:
            smtp.starttls()
        if cfg.user:
            smtp.login(cfg.user, cfg.password or "")
        smtp.send_message(msg)


def email_outputs(cfg: SmtpConfig, recipient, outputs, lang_strings: dict, at=None,
                  corrections: dict | None = None) -> list:
    """Send the not-yet-sent versions of one recipient in one e-mail; the outputs sent.

    ``corrections``: id(output) -> (is a correction, changed figures), recorded with the delivery."""
    pending = [o for o in outputs if not delivered_via(o.manifest, "smtp")]
    if not pending or not recipient.emails:
        return []
    kinds = ", ".join(dict.fromkeys(f"{lang_strings['kinds'][o.kind]} {o.period} (v{o.version})" for o in pending))
    subject = f"{lang_strings['org']}: {kinds}"
    lines = [f"{lang_strings['t']['report_for']}: {recipient.name}", ""]
    lines += [f"- {lang_strings['kinds'][o.kind]} {o.period}, {o.lang}, v{o.version}" for o in pending]
    msg = build_message(cfg, list(recipient.emails), subject, "\n".join(lines) + "\n", pending)
    send_email(cfg, msg)
    for o in pending:
        correction, changes = (corrections or {}).get(id(o), (False, 0))
        record_delivery(o.manifest, "smtp", list(recipient.emails), at,
                        files=[(f"{o.period}.{Path(f).name}", f) for f in (o.pdf, o.html)],
                        correction=correction, changes=changes, lang=o.lang)
    return pending
