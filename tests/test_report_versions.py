"""Versions, change lists, outbox and SMTP delivery, the data-quality gate, and what is due when.

Late data arrive as they do in production: a Slurm file delivered after the first reports,
ingested, built incrementally, validated and published as a new snapshot
(tests/report_scenario.py). The scenario and its sums by hand are in tests/test_report_data.py.
The late jobs, both on 2026-10-30 13:00-15:30 local for contract C-002 (1.20 EUR per GPU-hour,
allotment 20,000 in October): 1021 (berta, 4 GPUs on gpu002: 10 GPU-h, 10 kWh) in
sacct-late-1.txt, 1022 (bodo, 2 GPUs alone on gpu003: 5 GPU-h, 10 kWh) in sacct-late-2.txt.
Partner P-002's statement for 2026-10:

| snapshot | GPU-h | cost EUR | IT kWh | jobs (COMPLETED) | remaining of 20,000 |
|---|---|---|---|---|---|
| base | 64 + 16 = 80 | 96.00 | 32 + 8 = 40 | 2 (1) | 19,920 |
| + sacct-late-1.txt | 90 | 108.00 | 50 | 3 (2) | 19,910 |
| + sacct-late-2.txt | 95 | 114.00 | 60 | 4 (3) | 19,905 |

Late file 1 changes the statement's GPU-hours (and core-hours, x 16), cost, list value (x 2.50)
and subsidy, IT and facility energy (x 1.25) and CO2e, jobs, the completed jobs, used and
remaining hours of C-002; the users (berta, bodo: "< 3") and the cancelled job stay.
"""

import hashlib
import json
import re
import shutil
from datetime import date, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import duckdb
import pytest
import report_scenario
from kirz.config import load_settings
from kirz.reporting import ReportError, due_reports, report
from kirz.reporting.deliver import smtp_config
from kirz.validation import GateBlocked
from smtp_sink import smtp_sink

P2 = {"recipient": "partner-p-002", "period": "2026-10"}


@pytest.fixture(scope="session")
def scenario(tmp_path_factory):
    return report_scenario.shared(tmp_path_factory)


@pytest.fixture(scope="module")
def snapshots(scenario):
    """The published snapshots: the base delivery, then after each late Slurm file."""
    return {
        "base": scenario.snapshot,
        "late1": report_scenario.deliver_late(scenario, "sacct-late-1.txt"),
        "late2": report_scenario.deliver_late(scenario, "sacct-late-2.txt"),
    }


@pytest.fixture()
def settings(tmp_path):
    return report_scenario.settings_for(tmp_path / "home")


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def changes_table(html: str) -> str:
    return html.replace("num old", "num")


def test_late_files_changed_the_snapshots(snapshots):
    got = {}
    for name, path in snapshots.items():
        con = duckdb.connect(str(path), read_only=True)
        try:
            got[name] = con.execute("select gpu_hours, cost_eur, it_energy_kwh, remaining_gpu_hours from "
                                    "reporting.rpt_contract_period where contract_id = 'C-002' and period = '2026-10'"
                                    ).fetchone()
        finally:
            con.close()
    assert got == {"base": (80.0, 96.0, 40.0, 19920.0), "late1": (90.0, 108.0, 50.0, 19910.0),
                   "late2": (95.0, 114.0, 60.0, 19905.0)}


def test_same_data_makes_no_new_version(settings, snapshots):
    first = report(settings, **P2, db=snapshots["base"])
    assert [(o.version, o.new) for o in first] == [(1, True)]
    again = report(settings, **P2, db=snapshots["base"])
    assert [(o.version, o.new) for o in again] == [(1, False)]
    assert again[0].data_hash == first[0].data_hash and again[0].pdf == first[0].pdf
    folder = settings.reports_dir / "partner-p-002" / "2026-10"
    assert files_in(folder) == [f"partner_statement.de.v1.{ext}" for ext in ("csv", "dq.csv", "html", "json", "pdf",
                                                                                "xlsx")]
    manifest = json.loads(first[0].manifest.read_text())
    assert manifest["files"]["partner_statement.de.v1.pdf"] == hashlib.sha256(first[0].pdf.read_bytes()).hexdigest()
    assert manifest["figures"]["total.gpu_hours"]["value"] == 80.0
    assert manifest["figures"]["contract.C-002.remaining_gpu_hours"]["value"] == 19920.0
    assert {i["file"] for i in manifest["inputs"]} >= {"sacct-2026-11-06.txt", "inventory.yaml", "C-002.yaml"}
    assert manifest["gate"]["status"] == "open"


def test_changed_data_makes_v2_with_the_change_list(settings, snapshots):
    v1 = report(settings, **P2, langs=["de", "en"], db=snapshots["base"], deliver=True)
    assert {o.lang: o.version for o in v1} == {"de": 1, "en": 1}
    v2 = {o.lang: o for o in report(settings, **P2, langs=["de", "en"], db=snapshots["late1"])}
    assert v2["de"].version == 2 and v2["de"].new
    manifest = json.loads(v2["de"].manifest.read_text())
    assert manifest["base_version"] == 1
    assert set(manifest["changes"]) == {
        "total.gpu_hours", "total.cpu_core_hours", "total.jobs", "total.it_energy_kwh", "total.facility_energy_kwh",
        "total.co2e_kg", "total.co2e_market_kg", "total.cost_eur", "total.compute_value_eur", "total.subsidy_eur",
        "contract.C-002.gpu_hours", "contract.C-002.remaining_gpu_hours", "contract.C-002.cost_eur", "jobs.COMPLETED",
        "contract.C-002.used_to_date_gpu_hours", "contract.C-002.compute_value_eur", "contract.C-002.subsidy_eur",
        "amounts.net_eur", "amounts.vat_eur", "amounts.gross_eur",
    }
    assert v2["de"].changes == len(manifest["changes"])
    html = changes_table(v2["de"].html.read_text())
    assert "Neu ausgegebener Bericht" in html and "ersetzt Version 1 (versandt am" in html
    assert ">80,0</td><td class=\"num\">90,0<" in html
    assert ">96,00</td><td class=\"num\">108,00<" in html
    assert ">19.920,0</td><td class=\"num\">19.910,0<" in html
    en = changes_table(v2["en"].html.read_text())
    assert "replaces version 1 (delivered on" in en and ">80.0</td><td class=\"num\">90.0<" in en
    # the late file was validated on its own day only: the October appendix still shows the
    # accepted deviation of 10-28 from the first validation
    assert re.search(r"\d+ Prüfungen: \d+ bestanden, 1 akzeptierte Abweichungen, 0 Warnungen", html)
    assert "zz-legacy is the test account of [confidential]" in html
    # unchanged since v2: no v3
    again = report(settings, **P2, db=snapshots["late1"])
    assert [(o.version, o.new) for o in again] == [(2, False)]


def test_change_list_is_against_the_version_last_delivered(settings, snapshots):
    report(settings, **P2, db=snapshots["base"], deliver=True)                # v1, delivered
    assert report(settings, **P2, db=snapshots["late1"])[0].version == 2      # v2, not delivered
    v3 = report(settings, **P2, db=snapshots["late2"])[0]
    assert v3.version == 3
    html = changes_table(v3.html.read_text())
    assert "ersetzt Version 1" in html and ">80,0</td><td class=\"num\">95,0<" in html
    assert ">96,00</td><td class=\"num\">114,00<" in html
    assert json.loads(v3.manifest.read_text())["base_version"] == 1


@pytest.fixture()
def smtp_server():
    with smtp_sink() as server:
        yield server


def with_smtp(settings, port):
    return report_scenario.settings_for(settings.home, smtp={"host": "127.0.0.1", "port": port,
                                                             "from": "reports@kirz.test"})


def test_smtp_delivery_sends_each_version_once(settings, snapshots, smtp_server):
    sink, port = smtp_server
    settings = with_smtp(settings, port)
    outs = report(settings, **P2, langs=["de", "en"], db=snapshots["base"], deliver=True)
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
    again = report(settings, **P2, langs=["de", "en"], db=snapshots["base"], deliver=True)
    assert all(not o.new and o.status == "unchanged" and o.delivered == [] for o in again)
    assert len(sink.messages) == 1
    deliveries = json.loads(outs[0].manifest.read_text())["deliveries"]
    assert [d["channel"] for d in deliveries] == ["outbox", "smtp"]
    outbox = settings.home / "outbox" / "partner-p-002"
    # every file of each version (its manifest's list: html, pdf, csv, xlsx and what else it holds)
    assert files_in(outbox) == sorted(f"2026-10.{name}" for o in outs for name in json.loads(o.manifest.read_text())
                                      ["files"])
    assert {"2026-10.partner_statement.de.v1.pdf", "2026-10.partner_statement.en.v1.xlsx"} <= set(files_in(outbox))
    # a new version after the late file is sent, once, when the correction interval (7 days
    # by default) since the first delivery has passed
    first_at = datetime.fromisoformat(deliveries[0]["at"])
    v2 = report(settings, **P2, langs=["de"], db=snapshots["late1"], deliver=True, now=first_at + timedelta(days=7))
    assert v2[0].version == 2 and v2[0].delivered == ["outbox", "smtp"] and len(sink.messages) == 2
    assert "2026-10.partner_statement.de.v2.pdf" in files_in(outbox)


def test_recipient_without_email_goes_to_outbox_only(settings, snapshots, smtp_server):
    sink, port = smtp_server
    settings = with_smtp(settings, port)
    outs = report(settings, recipient="partner-p-003", period="2026-10", db=snapshots["base"], deliver=True)
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


def test_due_reports(settings, snapshots):
    due = due_reports(settings, date(2027, 1, 15), db=snapshots["base"])
    assert ("bund-strukturwandel", "funder_impact", "2026-Q4") in due
    assert ("bund-strukturwandel", "funder_impact", "2026") in due
    assert ("freistaat-sachsen", "funder_impact", "2026-Q4") in due
    assert ("eu-jtf", "funder_impact", "2026-Q4") in due
    assert ("energy-regulator", "energy_annual", "2026") in due
    # December 2026 has no data: no statement is due for it
    assert not [item for item in due if item[1] == "partner_statement"]
    november = due_reports(settings, date(2026, 12, 1), db=snapshots["base"])
    assert sorted(r for r, k, p in november if k == "partner_statement" and p == "2026-11") == [
        f"partner-p-00{i}" for i in range(1, 8)]
    assert ("partner-p-002", "partner_statement", "2026-10") in due_reports(settings, date(2026, 11, 1),
                                                                            db=snapshots["base"])


def test_unknown_recipient_and_period_kind(settings, snapshots):
    with pytest.raises(ValueError, match="unknown recipient 'nobody'"):
        report(settings, recipient="nobody", period="2026-Q4", db=snapshots["base"])
    # a month is no period for a funder report: nothing to render, nothing written
    assert report(settings, recipient="bund-strukturwandel", period="2026-10", db=snapshots["base"]) == []
    assert not settings.reports_dir.exists()
    with pytest.raises(FileNotFoundError):
        report(settings, recipient="bund-strukturwandel", period="2026-Q4", db=settings.home / "missing.duckdb")


def test_a_broken_definition_does_not_stop_the_others(settings, snapshots, tmp_path):
    recips = tmp_path / "recipients"
    shutil.copytree(report_scenario.RECIPIENTS, recips)
    (recips / "broken.yaml").write_text("id: broken\nscope: {funders: []}\nreports: [funder_impact]\n")
    settings = report_scenario.settings_for(settings.home, recipients=recips)
    with pytest.raises(ReportError) as err:
        report(settings, all_recipients=True, period="2026", kinds=["energy_annual"], db=snapshots["base"])
    assert [(o.recipient, o.kind, o.version) for o in err.value.outputs] == [("energy-regulator", "energy_annual", 1)]
    assert len(err.value.failures) == 1 and "broken.yaml: empty scope" in err.value.failures[0]
    assert err.value.outputs[0].pdf.exists()
    # naming a recipient that is fine works without complaint about the broken file
    assert report(settings, recipient="energy-regulator", period="2026", db=snapshots["base"])[0].new is False


def test_reports_need_the_data_quality_gate(settings, snapshots, tmp_path):
    """A snapshot whose days no validation covers is refused; forced with a reason and a name,
    the override is recorded and printed, and the report is a version of its own."""
    unvalidated = report_scenario.edited_copy(snapshots["base"], tmp_path / "unvalidated.duckdb",
                                              "delete from audit.dq_results")
    with pytest.raises(GateBlocked, match="no data-quality results cover this period"):
        report(settings, **P2, db=unvalidated)
    assert not settings.reports_dir.exists()
    with pytest.raises(ValueError, match="--reason"):
        report(settings, **P2, db=unvalidated, force=True)
    (o,) = report(settings, **P2, db=unvalidated, force=True, reason="validation host down; statement due today",
                  by="ops")
    gate = json.loads(o.manifest.read_text())["gate"]
    assert (gate["status"], gate["reason"], gate["by"]) == ("overridden", "validation host down; statement due today",
                                                           "ops")
    assert gate["override_id"] and gate["override_id"] in o.html.read_text()
    assert "validation host down; statement due today" in o.html.read_text()
    # the override is recorded in the live warehouse of the settings, where the next run finds it
    live = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        assert live.execute("select overridden_by from audit.gate_overrides").fetchall() == [("ops",)]
    finally:
        live.close()
    # the validated snapshot, at an open gate, makes a version of its own, not the one released
    # under the override
    (open_gate,) = report(settings, **P2, db=snapshots["base"])
    assert (open_gate.version, open_gate.new) == (2, True)
