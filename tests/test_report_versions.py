"""Versions, change lists, outbox and SMTP delivery, and what is due when."""

import json
import shutil
import socket
import time
from datetime import date
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from kirz.config import load_settings
from kirz.reporting import due_reports, report
from kirz.reporting.deliver import smtp_config
from kirz.warehouse import connect, init_schema

FIXTURES = Path(__file__).parent / "fixtures" / "reports"


def build_fixture_warehouse(path: Path) -> Path:
    con = connect(path)
    init_schema(con)
    con.execute((FIXTURES / "warehouse.sql").read_text(encoding="utf-8"))
    con.close()
    return path


@pytest.fixture()
def env(tmp_path):
    db = build_fixture_warehouse(tmp_path / "wh" / "kirz.duckdb")
    settings = load_settings(env={}, home=tmp_path / "home", pseudonym_key="k",
                             extra={"recipients_dir": str(FIXTURES / "recipients")})
    return settings, db


def late_job(db: Path, gpu_hours: float) -> None:
    """Late data for P-002 on 30 October: more GPU-hours and cost in the month's statement."""
    con = connect(db)
    con.execute("insert into marts.fct_usage_daily values ('2026-10-30', 'C-002', 'P-002', 'cooperation', 1, ?, ?, "
                "?, ?, ?, ?, ?, ?)", [gpu_hours, gpu_hours * 16, gpu_hours * 0.7, gpu_hours * 0.875,
                                      gpu_hours * 0.3325, gpu_hours * 1.2, gpu_hours * 2.5, gpu_hours * 1.3])
    con.close()


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_same_data_makes_no_new_version(env):
    settings, db = env
    first = report(settings, recipient="partner-p-002", period="2026-10", db=db)
    assert [(o.version, o.new) for o in first] == [(1, True)]
    again = report(settings, recipient="partner-p-002", period="2026-10", db=db)
    assert [(o.version, o.new) for o in again] == [(1, False)]
    assert again[0].data_hash == first[0].data_hash and again[0].pdf == first[0].pdf
    folder = settings.reports_dir / "partner-p-002" / "2026-10"
    assert files_in(folder) == [f"partner_statement.de.v1.{ext}" for ext in ("csv", "html", "json", "pdf")]
    manifest = json.loads(first[0].manifest.read_text())
    assert manifest["files"]["partner_statement.de.v1.pdf"] == __import__("hashlib").sha256(first[0].pdf.read_bytes()).hexdigest()
    assert manifest["figures"]["total.gpu_hours"]["value"] == 80.0
    assert {i["file"] for i in manifest["inputs"]} >= {"sacct-2026-10.txt", "inventory.yaml"}


def test_changed_data_makes_v2_with_the_change_list(env):
    settings, db = env
    v1 = report(settings, recipient="partner-p-002", period="2026-10", langs=["de", "en"], db=db, deliver=True)
    assert {o.lang: o.version for o in v1} == {"de": 1, "en": 1}
    late_job(db, 10.0)
    v2 = {o.lang: o for o in report(settings, recipient="partner-p-002", period="2026-10", langs=["de", "en"], db=db)}
    assert v2["de"].version == 2 and v2["de"].new and v2["de"].changes > 0
    manifest = json.loads(v2["de"].manifest.read_text())
    assert manifest["base_version"] == 1
    assert {"total.gpu_hours", "total.cost_eur", "contract.C-002.gpu_hours"} <= set(manifest["changes"])
    assert "jobs.COMPLETED" not in manifest["changes"]  # the late row added no job record
    html = v2["de"].html.read_text()
    assert "Neu ausgegebener Bericht" in html and "ersetzt Version 1 (versandt am" in html
    assert ">80,0</td><td class=\"num\">90,0<" in html.replace("num old", "num")
    assert ">96,00</td><td class=\"num\">108,00<" in html.replace("num old", "num")
    en = v2["en"].html.read_text()
    assert "replaces version 1 (delivered on" in en and ">80.0</td><td class=\"num\">90.0<" in en.replace("num old", "num")
    # unchanged since v2: no v3
    assert report(settings, recipient="partner-p-002", period="2026-10", db=db)[0].version == 2


def test_change_list_is_against_the_version_last_delivered(env):
    settings, db = env
    report(settings, recipient="partner-p-002", period="2026-10", db=db, deliver=True)   # v1, delivered
    late_job(db, 10.0)
    report(settings, recipient="partner-p-002", period="2026-10", db=db)                 # v2, not delivered
    late_job(db, 5.0)
    v3 = report(settings, recipient="partner-p-002", period="2026-10", db=db)[0]
    assert v3.version == 3
    html = v3.html.read_text().replace("num old", "num")
    assert "ersetzt Version 1" in html and ">80,0</td><td class=\"num\">95,0<" in html


class Sink:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def smtp_server():
    sink = Sink()
    port = free_port()
    ctl = Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        yield sink, port
    finally:
        ctl.stop()


def test_smtp_delivery_sends_each_version_once(env, smtp_server):
    settings, db = env
    sink, port = smtp_server
    settings = load_settings(env={}, home=settings.home, pseudonym_key="k", extra={
        "recipients_dir": str(FIXTURES / "recipients"),
        "smtp": {"host": "127.0.0.1", "port": port, "from": "reports@kirz.test"}})
    outs = report(settings, recipient="partner-p-002", period="2026-10", langs=["de", "en"], db=db, deliver=True)
    assert all(o.delivered == ["outbox", "smtp"] for o in outs)
    assert len(sink.messages) == 1
    rcpts, content = sink.messages[0]
    assert rcpts == ["billing@muster-robotik.test"]
    msg = message_from_bytes(content, policy=policy.default)
    names = sorted(p.get_filename() for p in msg.iter_attachments())
    assert names == ["2026-10.partner_statement.de.v1.html", "2026-10.partner_statement.de.v1.pdf",
                     "2026-10.partner_statement.en.v1.html", "2026-10.partner_statement.en.v1.pdf"]
    pdf = next(p for p in msg.iter_attachments() if p.get_filename().endswith("de.v1.pdf")).get_payload(decode=True)
    assert pdf == outs[0].pdf.read_bytes()
    assert "Nutzungsnachweis 2026-10 (v1)" in msg["Subject"]
    # the same versions again: outbox unchanged, no second e-mail
    again = report(settings, recipient="partner-p-002", period="2026-10", langs=["de", "en"], db=db, deliver=True)
    assert all(not o.new and o.delivered == ["outbox"] for o in again)
    assert len(sink.messages) == 1
    deliveries = json.loads(outs[0].manifest.read_text())["deliveries"]
    assert [d["channel"] for d in deliveries] == ["outbox", "smtp"]
    outbox = settings.home / "outbox" / "partner-p-002"
    assert files_in(outbox) == sorted(f"2026-10.partner_statement.{lang}.v1.{ext}" for lang in ("de", "en")
                                      for ext in ("csv", "html", "pdf"))
    # a new version is sent, once
    late_job(db, 10.0)
    v2 = report(settings, recipient="partner-p-002", period="2026-10", langs=["de"], db=db, deliver=True)
    assert v2[0].version == 2 and len(sink.messages) == 2


def test_recipient_without_email_goes_to_outbox_only(env, smtp_server):
    settings, db = env
    sink, port = smtp_server
    settings = load_settings(env={}, home=settings.home, pseudonym_key="k", extra={
        "recipients_dir": str(FIXTURES / "recipients"),
        "smtp": {"host": "127.0.0.1", "port": port, "from": "reports@kirz.test"}})
    outs = report(settings, recipient="partner-p-003", period="2026-10", db=db, deliver=True)
    assert outs[0].delivered == ["outbox"] and sink.messages == []
    assert (settings.home / "outbox" / "partner-p-003" / "2026-10.partner_statement.de.v1.pdf").exists()


def test_smtp_config_from_env_and_toml():
    s = load_settings(env={})
    assert smtp_config(s, env={}) is None
    cfg = smtp_config(s, env={"KIRZ_SMTP_HOST": "mail.test", "KIRZ_SMTP_PORT": "2525", "KIRZ_SMTP_FROM": "a@b.test"})
    assert (cfg.host, cfg.port, cfg.sender, cfg.starttls) == ("mail.test", 2525, "a@b.test", False)
    with pytest.raises(ValueError, match="sender"):
        smtp_config(s, env={"KIRZ_SMTP_HOST": "mail.test"})
    s2 = load_settings(env={}, extra={"smtp": {"host": "h", "port": 587, "from": "x@y.test", "starttls": True}})
    assert smtp_config(s2, env={}).starttls is True


def test_due_reports(env):
    settings, db = env
    due = due_reports(settings, date(2027, 1, 15), db=db)
    assert ("bund-strukturwandel", "funder_impact", "2026-Q4") in due
    assert ("bund-strukturwandel", "funder_impact", "2026") in due
    assert ("freistaat-sachsen", "funder_impact", "2026-Q4") in due
    assert ("energy-regulator", "energy_annual", "2026") in due
    assert ("partner-p-002", "partner_statement", "2026-12") in due
    assert sum(1 for r, k, p in due if k == "partner_statement") == 7
    assert ("partner-p-002", "partner_statement", "2026-03") in due_reports(settings, date(2026, 4, 1), db=db)


def test_unknown_recipient_and_period_kind(env):
    settings, db = env
    with pytest.raises(ValueError, match="unknown recipient 'nobody'"):
        report(settings, recipient="nobody", period="2026-Q4", db=db)
    # a month is no period for a funder report: nothing to render, nothing written
    assert report(settings, recipient="bund-strukturwandel", period="2026-10", db=db) == []
    with pytest.raises(FileNotFoundError):
        report(settings, recipient="bund-strukturwandel", period="2026-Q4", db=db.parent / "missing.duckdb")


def test_a_broken_definition_does_not_stop_the_others(env, tmp_path):
    settings, db = env
    recips = tmp_path / "recipients"
    shutil.copytree(FIXTURES / "recipients", recips)
    (recips / "broken.yaml").write_text("id: broken\nscope: {funders: []}\nreports: [funder_impact]\n")
    settings = load_settings(env={}, home=settings.home, pseudonym_key="k", extra={"recipients_dir": str(recips)})
    from kirz.reporting import ReportError

    with pytest.raises(ReportError) as err:
        report(settings, all_recipients=True, period="2026", kinds=["energy_annual"], db=db)
    assert [(o.recipient, o.kind, o.version) for o in err.value.outputs] == [("energy-regulator", "energy_annual", 1)]
    assert len(err.value.failures) == 1 and "broken.yaml: empty scope" in err.value.failures[0]
    assert err.value.outputs[0].pdf.exists()
    # naming a recipient that is fine works without complaint about the broken file
    assert report(settings, recipient="energy-regulator", period="2026", db=db)[0].new is False
