"""Issuing and delivery policy: a version only for a changed figure, delivery on the due day, a
correction once per interval, and ``audit.report_deliveries``.

Due days worked out by hand (Saxony's public holidays; working days Monday to Friday):

| rule | period | period ends | due | why |
|---|---|---|---|---|
| on: 3rd_working_day | 2026-11 | Mon 2026-11-30 | Thu 2026-12-03 | Tue 1, Wed 2, Thu 3 December |
| on: 3rd_working_day | 2026-10 | Sat 2026-10-31 | Wed 2026-11-04 | Mon 2, Tue 3, Wed 4 November |
| on: 3rd_working_day | 2026-03 | Tue 2026-03-31 | Tue 2026-04-07 | Wed 1, Thu 2; Good Friday 3 April, the weekend, Easter Monday 6 April; Tue 7 |
| on: 3rd_working_day | 2026-12 | Thu 2026-12-31 | Wed 2027-01-06 | New Year (Fri 1) and the weekend; Mon 4, Tue 5, Wed 6 (Epiphany is no holiday in Saxony) |
| settle_days: 20 | 2026-Q4 | Thu 2026-12-31 | Wed 2027-01-20 | 31 December + 20 days |
| by: "03-31" | 2026 | 2026-12-31 | 2027-03-31 | the first 31 March after the year |
| settle_days: 45, by: "03-31" | 2026 | 2026-12-31 | 2027-02-14 | 31 December + 45 days is before 31 March |
| (none) | 2026-10 | 2026-10-31 | 2026-11-01 | the day after the period |

The delivery scenario is partner P-002's statement for 2026-10 (tests/report_scenario.py; the
figures in tests/test_report_versions.py): v1 from the base snapshot, v2 after the late Slurm
file changes 20 of its figures (GPU-hours 80 -> 90, cost 96.00 -> 108.00 EUR, ...).
"""

import hashlib
import json
import shutil
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from email import message_from_bytes, policy
from zoneinfo import ZoneInfo

import duckdb
import pytest
import yaml
import report_scenario
from kirz.reporting import deliver_due, report
from kirz.reporting.audit import record_deliveries, record_deliveries_in
from kirz.reporting.model import Period
from kirz.reporting.recipients import Recipient, RecipientError, ReportSpec, Scope, load_definitions
from kirz.reporting.schedule import (
    DeliveryRule, correction_allowed, delivery_due, nth_working_day, parse_rule, saxony_holidays,
)
from smtp_sink import smtp_sink

BERLIN = ZoneInfo("Europe/Berlin")
P2 = {"recipient": "partner-p-002", "period": "2026-10"}


def at(text: str) -> datetime:
    """A local Berlin time as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def recipient(*specs, deliver=None) -> Recipient:
    return Recipient("r", "R", "partner", ("de",), Scope(everything=True), tuple(specs), deliver=deliver)


# ------------------------------------------------------------------ due days, by hand


@pytest.mark.parametrize("period, due", [
    ("2026-11", date(2026, 12, 3)), ("2026-10", date(2026, 11, 4)), ("2026-03", date(2026, 4, 7)),
    ("2026-12", date(2027, 1, 6)),
])
def test_third_working_day_of_the_next_month(period, due):
    r = recipient(ReportSpec("partner_statement", "month", DeliveryRule(working_day=3)))
    assert delivery_due(r, "partner_statement", Period.parse(period)) == due
    assert delivery_due(r, r.reports[0], Period.parse(period)) == due


def test_settling_period_deadline_and_default():
    funder = recipient(ReportSpec("funder_impact", "quarter"), deliver=DeliveryRule(settle_days=20))
    assert delivery_due(funder, "funder_impact", Period.parse("2026-Q4")) == date(2027, 1, 20)
    register = recipient(ReportSpec("energy_register", "year"), deliver=DeliveryRule(by=(3, 31)))
    assert delivery_due(register, "energy_register", Period.parse("2026")) == date(2027, 3, 31)
    both = recipient(ReportSpec("energy_register", "year", DeliveryRule(settle_days=45, by=(3, 31))))
    assert delivery_due(both, "energy_register", Period.parse("2026")) == date(2027, 2, 14)
    plain = recipient(ReportSpec("partner_statement", "month"))
    assert delivery_due(plain, "partner_statement", Period.parse("2026-10")) == date(2026, 11, 1)


def test_the_reports_own_rule_wins_and_the_kind_picks_the_spec_of_the_periods_length():
    r = recipient(ReportSpec("partner_statement", "month", DeliveryRule(working_day=3)),
                  ReportSpec("partner_statement", "year"), deliver=DeliveryRule(settle_days=20))
    assert delivery_due(r, "partner_statement", Period.parse("2026-11")) == date(2026, 12, 3)
    assert delivery_due(r, "partner_statement", Period.parse("2026")) == date(2027, 1, 20)


def test_saxon_holidays():
    h = saxony_holidays(2026)
    assert {date(2026, 4, 3), date(2026, 4, 6), date(2026, 5, 14), date(2026, 5, 25), date(2026, 10, 31),
            date(2026, 11, 18), date(2026, 12, 25), date(2026, 12, 26)} <= h
    assert date(2026, 1, 6) not in h and len(h) == 11
    # Buß- und Bettag 2027: 22 November is a Monday, the Wednesday before is the 17th
    assert date(2027, 11, 17) in saxony_holidays(2027)
    # the working day after Wednesday 2026-11-17 is Thursday the 19th, not the holiday
    assert nth_working_day(date(2026, 11, 17), 1) == date(2026, 11, 19)


def test_correction_interval():
    last = datetime(2026, 12, 3, 8, 0, tzinfo=timezone.utc)
    assert not correction_allowed(last, last + timedelta(days=7) - timedelta(minutes=1), 7)
    assert correction_allowed(last, last + timedelta(days=7), 7)
    assert correction_allowed(last, last, 0)
    assert not correction_allowed(datetime(2026, 12, 3, 8, 0), datetime(2026, 12, 4, 8, 0), 7)  # naive: UTC


# ------------------------------------------------------------------ the syntax and its errors


@pytest.mark.parametrize("rule, message", [
    ("{on: third_working_day}", "deliver.on must read like 3rd_working_day"),
    ("{on: 3th_working_day}", "deliver.on must read like 3rd_working_day"),
    ("{settle_days: -1}", "deliver.settle_days must be a whole number from 0 to 366, got -1"),
    ("{settle_days: 20, on: 3rd_working_day}", "deliver takes 'on' or 'settle_days', not both"),
    ('{by: "02-30"}', "deliver.by must be a day of the year as \"MM-DD\""),
    ("{by: 2027-03-31}", "deliver.by must be a day of the year"),
    ("{when: monthly}", "unknown deliver key(s) ['when']"),
    ("{correction_interval_days: 1.5}", "correction_interval_days must be a whole number"),
    ("3rd_working_day", "deliver must be a mapping"),
])
def test_a_bad_rule_names_the_file_and_line(tmp_path, rule, message):
    f = tmp_path / "partner.yaml"
    f.write_text("id: p\nscope: all\nreports:\n  - {kind: partner_statement, every: month}\n"
                 f"  - {{kind: partner_statement, every: year, deliver: {rule}}}\n")
    with pytest.raises(RecipientError) as err:
        load_definitions(tmp_path)
    assert str(err.value).startswith(f"{f}:5: ") and message in str(err.value)
    # not strict: that file is skipped with the same message, the others are read
    (tmp_path / "other.yaml").write_text("id: o\nscope: all\nreports: [energy_annual]\ndeliver: {by: \"03-31\"}\n")
    defs = load_definitions(tmp_path, strict=False)
    assert [r.id for r in defs.recipients] == ["o"] and defs.recipients[0].deliver == DeliveryRule(by=(3, 31))
    assert len(defs.errors) == 1 and defs.errors[0].startswith(f"{f}:5: ")


def test_top_level_rule_line_and_the_yaml_boolean_on(tmp_path):
    f = tmp_path / "partners.yaml"
    f.write_text("partners: auto\nreports: [partner_statement]\n\ndeliver:\n  on: 3rd_working_day\n  by: 13-01\n")
    with pytest.raises(RecipientError, match=rf"^{f}:5: deliver.by must be"):
        load_definitions(tmp_path)
    f.write_text("partners: auto\nreports: [partner_statement]\ndeliver: {on: 2nd_working_day, "
                 "correction_interval_days: 14}\n")
    (tpl,) = load_definitions(tmp_path).auto_partner_templates
    assert tpl["deliver"] == DeliveryRule(working_day=2, correction_interval_days=14)
    assert parse_rule({"on": "20th_working_day"}, "x").working_day == 20


def test_the_repositorys_recipient_files_carry_their_rules():
    defs = load_definitions(report_scenario.FIXTURES.parents[2] / "reports" / "recipients")
    by_id = {r.id: r for r in defs.recipients}
    assert delivery_due(by_id["bund-strukturwandel"], "funder_impact", Period.parse("2026-Q4")) == date(2027, 1, 20)
    assert delivery_due(by_id["energy-regulator"], "energy_register", Period.parse("2026")) == date(2027, 3, 31)
    (tpl,) = defs.auto_partner_templates
    monthly, yearly = tpl["reports"]
    assert (monthly.deliver, yearly.deliver) == (DeliveryRule(working_day=3), DeliveryRule(settle_days=20))


# ------------------------------------------------------------------ through the reports


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory):
    """The session's scenario: the base snapshot and the one after the first late Slurm file."""
    sc = report_scenario.shared(tmp_path_factory)
    return {"base": sc.snapshot, "late1": report_scenario.deliver_late(sc, "sacct-late-1.txt")}


@pytest.fixture()
def smtp_server():
    with smtp_sink() as server:
        yield server


@pytest.fixture()
def settings(tmp_path, smtp_server):
    """The scenario's recipients, the partners' statements due on the 3rd working day, SMTP on."""
    recips = tmp_path / "recipients"
    shutil.copytree(report_scenario.RECIPIENTS, recips)
    doc = yaml.safe_load((recips / "partners.yaml").read_text())
    doc["deliver"] = {"on": "3rd_working_day", "correction_interval_days": 7}
    (recips / "partners.yaml").write_text(yaml.safe_dump(doc))
    _, port = smtp_server
    return report_scenario.settings_for(tmp_path / "home", recipients=recips,
                                        smtp={"host": "127.0.0.1", "port": port, "from": "reports@kirz.test"})


def _files(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _audit(settings) -> list[dict]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        cur = con.execute("select * from audit.report_deliveries order by delivery_id")
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]
    finally:
        con.close()


def test_same_figures_from_another_snapshot_issue_nothing(tmp_path, snapshots):
    """A re-published snapshot (another file, a reworded data-quality appendix, a later render
    time) holds the same figures: the run records "unchanged" and writes nothing."""
    from kirz.reporting.kinds import BUILDERS

    settings = report_scenario.settings_for(tmp_path / "home")
    republished = report_scenario.edited_copy(snapshots["base"], tmp_path / "kirz-republished.duckdb",
                                              "update audit.dq_results set meaning = meaning || ' (reworded)'")
    (first,) = report(settings, **P2, db=snapshots["base"])
    assert (first.version, first.status) == (1, "new")
    folder = settings.reports_dir / "partner-p-002" / "2026-10"
    written = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    (again,) = report(settings, **P2, db=republished)
    assert (again.version, again.new, again.status) == (1, False, "unchanged")
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == written
    # what differed: the appendix and provenance, not a figure
    data = {}
    for name, path in (("base", snapshots["base"]), ("republished", republished)):
        c = duckdb.connect(str(path), read_only=True)
        try:
            r = next(x for x in report_scenario_recipients(settings, c) if x.id == "partner-p-002")
            data[name] = BUILDERS["partner_statement"](c, r, Period.parse("2026-10"), settings, run_id="",
                                                       code_version="x", db_path=path)
        finally:
            c.close()
    assert data["base"]["dq"] != data["republished"]["dq"]
    assert [f.value for f in data["base"]["figures"]] == [f.value for f in data["republished"]["figures"]]
    # a changed figure makes v2, with its change list
    (v2,) = report(settings, **P2, db=snapshots["late1"])
    assert (v2.version, v2.status) == (2, "new")
    assert v2.changes == 0  # v1 was never delivered: nothing the recipient has to compare with


def report_scenario_recipients(settings, con):
    from kirz.reporting.service import load_recipients

    return load_recipients(settings, con)


def test_delivered_on_the_due_day_once_and_a_correction_once_per_interval(settings, snapshots, smtp_server):
    sink, _ = smtp_server
    outbox = settings.home / "outbox" / "partner-p-002"
    # Tuesday 2026-11-03: rendered for the operator, not due before Wednesday the 4th
    (v1,) = report(settings, **P2, db=snapshots["base"], deliver=True, now=at("2026-11-03T12:00"))
    assert (v1.version, v1.new, v1.delivered, v1.due) == (1, True, [], date(2026, 11, 4))
    assert v1.held == "preview: due on 2026-11-04"
    assert _files(outbox) == [] and sink.messages == []
    assert json.loads(v1.manifest.read_text())["deliveries"] == []
    # Wednesday 07:00: the daily delivery sends it, to the outbox and by e-mail, renders nothing
    out = deliver_due(settings, db=snapshots["base"], now=at("2026-11-04T07:00"))
    (sent,) = [o for o in out if o.recipient == "partner-p-002"]
    assert (sent.version, sent.delivered, sent.held) == (1, ["outbox", "smtp"], "")
    v1_files = [f"2026-10.{name}" for name in json.loads(v1.manifest.read_text())["files"]]
    assert v1_files[:4] == [f"2026-10.partner_statement.de.v1.{e}" for e in ("html", "pdf", "csv", "xlsx")]
    assert _files(outbox) == sorted(v1_files)
    assert len(sink.messages) == 1 and sink.messages[0][0] == ["billing@muster-robotik.test"]
    # the same day again, through the publish path: unchanged, nothing goes out twice
    (again,) = report(settings, **P2, db=snapshots["base"], deliver=True, now=at("2026-11-04T18:00"))
    assert (again.status, again.delivered) == ("unchanged", [])
    assert len(sink.messages) == 1
    # Friday the 6th the late file changes 20 figures: v2, a correction, held for 7 days
    (v2,) = report(settings, **P2, db=snapshots["late1"], deliver=True, now=at("2026-11-06T09:00"))
    assert (v2.version, v2.new, v2.delivered, v2.changes) == (2, True, [], 20)
    assert v2.held.startswith("correction pending: the last delivery was 2026-11-04T06:00:00+00:00")
    assert "v2" not in " ".join(_files(outbox)) and len(sink.messages) == 1
    assert [o.delivered for o in deliver_due(settings, db=snapshots["base"], now=at("2026-11-11T06:59"))] == [[]]
    # Wednesday the 11th 07:00, seven days on: it goes out once, with its change list
    (out,) = deliver_due(settings, db=snapshots["base"], now=at("2026-11-11T07:00"))
    assert (out.version, out.delivered) == (2, ["outbox", "smtp"])
    assert len(sink.messages) == 2
    msg = message_from_bytes(sink.messages[1][1], policy=policy.default)
    assert sorted(p.get_filename() for p in msg.iter_attachments()) == [
        "2026-10.partner_statement.de.v2.html", "2026-10.partner_statement.de.v2.pdf"]
    html = next(p for p in msg.iter_attachments() if p.get_filename().endswith(".html")).get_content()
    assert "ersetzt Version 1 (versandt am" in html and ">96,00</td><td class=\"num\">108,00<" in html.replace(
        "num old", "num")
    (later,) = deliver_due(settings, db=snapshots["base"], now=at("2026-11-30T07:00"))
    assert later.delivered == [] and len(sink.messages) == 2

    # one row per delivered file: every file of the version to the outbox, the PDF and HTML by e-mail
    rows = _audit(settings)
    v2_files = [f"2026-10.{name}" for name in json.loads(v2.manifest.read_text())["files"]]
    assert len(rows) == 2 * len(v1_files) + 4 and [r["delivery_id"] for r in rows] == list(range(1, len(rows) + 1))
    summary = [(r["version"], r["channel"], r["file_name"], r["is_correction"], r["changes"]) for r in rows]
    assert summary == (
        [(1, "outbox", f, False, 0) for f in v1_files]
        + [(1, "smtp", f"2026-10.partner_statement.de.v1.{e}", False, 0) for e in ("pdf", "html")]
        + [(2, "outbox", f, True, 20) for f in v2_files]
        + [(2, "smtp", f"2026-10.partner_statement.de.v2.{e}", True, 20) for e in ("pdf", "html")]
    )
    assert {(r["recipient_id"], r["kind"], r["period"], r["lang"]) for r in rows} == {
        ("partner-p-002", "partner_statement", "2026-10", "de")}
    for r in rows:
        on_disk = outbox / r["file_name"]
        assert r["sha256"] == hashlib.sha256(on_disk.read_bytes()).hexdigest(), r["file_name"]
        assert r["address"] == (str(outbox) if r["channel"] == "outbox" else "billing@muster-robotik.test")
    assert {r["delivered_at"] for r in rows if r["version"] == 1} == {at("2026-11-04T07:00")}
    assert {r["delivered_at"] for r in rows if r["version"] == 2} == {at("2026-11-11T07:00")}
    # the sync adds only what is missing
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        assert record_deliveries(con, settings.reports_dir) == 0
    finally:
        con.close()


def test_a_delivery_while_another_process_holds_the_warehouse_is_recorded_later(settings, snapshots, caplog):
    from kirz.warehouse import connect

    connect(settings.warehouse_path).close()  # create it, then hand it to another process
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time\n"
         f"c = duckdb.connect({str(settings.warehouse_path)!r})\nprint('ready', flush=True)\ntime.sleep(120)\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        (o,) = report(settings, **P2, db=snapshots["base"], deliver=True, now=at("2026-11-05T07:00"))
        assert o.delivered == ["outbox", "smtp"]
        assert "audit.report_deliveries not updated now" in caplog.text
        assert record_deliveries_in(settings) is None
    finally:
        holder.terminate()
        holder.wait(timeout=30)
    files = len(json.loads(o.manifest.read_text())["files"])
    assert record_deliveries_in(settings) == files + 2  # every file to the outbox, PDF and HTML by e-mail
    assert len(_audit(settings)) == files + 2


def test_nothing_new_in_landing_is_a_skip():
    from kirz.airflow_ingest import nothing_new

    base = {"files": 0, "loaded": 0, "duplicate": 0, "rejected": []}
    assert nothing_new(base, "/l/slurm") == "nothing to ingest: /l/slurm holds no files"
    assert nothing_new({**base, "files": 2, "duplicate": 2}, "/l/slurm") == (
        "nothing new loaded from /l/slurm: 2 file(s) already loaded (same sha256)")
    assert nothing_new({**base, "files": 2, "duplicate": 1, "rejected": ["x.txt: not sacct"]}, "/l") == (
        "nothing new loaded from /l: 1 file(s) already loaded (same sha256), 1 file(s) rejected: x.txt: not sacct")
    assert nothing_new({**base, "files": 3, "loaded": 1, "duplicate": 2}, "/l") is None
