"""Every report kind rendered in both languages from the published snapshot, read back from the PDF.

The reports read ``published/snapshots/kirz-base.duckdb`` of the scenario (tests/report_scenario.py;
the job table and the sums by hand are in tests/test_report_data.py). What the PDFs must say:

- federal funder, 2026-Q4: 560.0 GPU-hours, 422.00 EUR charged, the confidential group (P-003
  with P-005 and P-006) 160.0 GPU-hours of 9,600; coverage "26.10.2026–06.11.2026, 12 von 92
  Tagen", in operation since 19.10.2026; capacity: 32 GPUs installed, 19 days in operation =
  457 hours (10-25 has 25), 32 x 457 = 14,624 GPU-hours, of which the scope used 560 = 3.83 %;
  centre utilisation 668 / 14,624 = 4.6 %; centre energy IT 5,760 kWh, facility 7,200 kWh,
  PUE 1.25. Withheld, because they would single out part of the group (tests/test_disclosure.py):
  the Revier share 520 / 560 (P-005 alone is outside), the economic use of the centre (300.0
  GPU-hours, C-002, C-003 and C-005), and the de-minimis figures of G-SKRIPT and P-003 (two
  undertakings in the group's row).
- Free State of Saxony (C-001, C-004, no confidential partner, no economic contract): economic
  use 300.0 GPU-hours = 2.05 % of capacity = 10.3 % of the 20 % allowance.
- partner P-002: October allotment 20,000, used 80.0, to date 80.0, remaining 19,920.0, price
  1.20, cost 96.00; November allotment 30,000 (amendment), used 80.0, to date 160.0,
  remaining 29,840.0, cost 96.00; two users in October: "< 3".
- energy report 2026: installed GPUs 32, GPU nodes 4, CPU nodes 1, 19 days in operation.
"""

import csv
import io
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from jinja2 import UndefinedError
from pypdf import PdfReader

import report_scenario
from kirz.reporting import report
from kirz.reporting.data import open_readonly, rows
from kirz.reporting.funder_impact import build_funder_report
from kirz.reporting.model import Period
from kirz.reporting.recipients import Recipient, ReportSpec, Scope
from kirz.reporting.render import Lang, VersionInfo, render_html

CONFIDENTIAL = ("Geheimwerk", "Verdeckte Start-up")
BUND = ("bund-strukturwandel", "2026-Q4")


def pdf_text(path: Path) -> str:
    """The PDF's text with all white space (line breaks inside table cells too) made single spaces."""
    return " ".join(" ".join(p.extract_text() for p in PdfReader(str(path)).pages).split())


def section(html: str, sid: str) -> str:
    """The text of one <section> of a report, tags removed and white space made single spaces."""
    body = html.split(f'<section id="{sid}"', 1)[1].split("</section>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", body.split(">", 1)[1]).split())


@pytest.fixture(scope="session")
def scenario(tmp_path_factory):
    return report_scenario.shared(tmp_path_factory)


@pytest.fixture(scope="module")
def rendered(scenario, tmp_path_factory):
    """Render the scenario's reports once: (recipient, period, lang) -> output and its texts."""
    settings = report_scenario.settings_for(tmp_path_factory.mktemp("render-home"))
    db = scenario.snapshot
    outs = []
    outs += report(settings, recipient="bund-strukturwandel", period="2026-Q4", langs=["de", "en"], db=db)
    outs += report(settings, recipient="freistaat-sachsen", period="2026-Q4", db=db)
    outs += report(settings, recipient="eu-jtf", period="2026-Q4", langs=["en"], db=db)
    outs += report(settings, recipient="partner-p-002", period="2026-10", langs=["de", "en"], db=db)
    outs += report(settings, recipient="partner-p-002", period="2026-11", db=db)
    outs += report(settings, recipient="partner-p-003", period="2026-10", db=db)
    outs += report(settings, recipient="energy-regulator", period="2026", langs=["de", "en"], db=db)
    by = {(o.recipient, o.period, o.lang): o for o in outs}
    texts = {k: {"html": o.html.read_text(encoding="utf-8"), "pdf": pdf_text(o.pdf),
                 "csv": o.csv.read_text(encoding="utf-8"), "json": o.manifest.read_text(encoding="utf-8")}
             for k, o in by.items()}
    con = open_readonly(db)
    try:
        pseudonyms = [r[0] for r in con.execute("select distinct user_pseudonym from marts.fct_job_usage").fetchall()]
        dq_runs = [r[0] for r in con.execute("select run_id from audit.dq_runs").fetchall()]
    finally:
        con.close()
    return {"by": by, "texts": texts, "db": db, "settings": settings, "pseudonyms": pseudonyms, "dq_runs": dq_runs}


def test_every_kind_in_both_languages(rendered):
    assert len(rendered["by"]) == 10
    for kind, rid, period in (("funder_impact", *BUND), ("partner_statement", "partner-p-002", "2026-10"),
                              ("energy_annual", "energy-regulator", "2026")):
        for lang in ("de", "en"):
            o = rendered["by"][(rid, period, lang)]
            assert (o.kind, o.version, o.new) == (kind, 1, True)
            assert o.pdf.read_bytes().startswith(b"%PDF")
            assert o.html.name == f"{kind}.{lang}.v1.html"
            assert o.html.parent == rendered["settings"].reports_dir / rid / period
            assert json.loads(o.manifest.read_text())["warehouse"] == str(rendered["db"])
    assert rendered["db"].parent.name == "snapshots" and rendered["db"].parent.parent.name == "published"
    # the recipients of tests/fixtures/reports/recipients, not the repository's
    assert json.loads(rendered["by"][(*BUND, "de")].manifest.read_text())["recipient_name"] == "Bund – Strukturwandel"


def test_funder_pdf_shows_the_hand_figures(rendered):
    de = rendered["texts"][(*BUND, "de")]["pdf"]
    en = rendered["texts"][(*BUND, "en")]["pdf"]
    for text, figures in ((de, ("560,0", "422,00", "1,25", "7.200", "9.600")),
                          (en, ("560.0", "422.00", "1.25", "7,200", "9,600"))):
        # GPU-hours, cost charged, PUE, facility energy, the confidential group's allotment
        assert all(f in text for f in figures), [f for f in figures if f not in text]
    assert "Wirkungsbericht" in de and "Impact report" in en
    assert "Inhalt" in de and "Contents" in en
    assert "Seite 1 von" not in de and "Seite 2 von" in de  # no footer on the cover, then numbered


def test_funder_coverage_sentence_and_utilisation_over_days_in_operation(rendered):
    de_html, de_pdf = rendered["texts"][(*BUND, "de")]["html"], rendered["texts"][(*BUND, "de")]["pdf"]
    en_html, en_pdf = rendered["texts"][(*BUND, "en")]["html"], rendered["texts"][(*BUND, "en")]["pdf"]
    for text in (section(de_html, "sec-headline"), de_pdf):
        assert "Datenbasis: 26.10.2026–06.11.2026, 12 von 92 Tagen. Das Zentrum ist seit 19.10.2026 in Betrieb." in text
    for text in (section(en_html, "sec-headline"), en_pdf):
        assert "Data: 2026-10-26–2026-11-06, 12 of 92 days. The centre has been in operation since 2026-10-19." in text
    cap = section(de_html, "sec-capacity")
    assert ("Im Zentrum sind 32 GPUs installiert; an den 19 Betriebstagen dieses Zeitraums boten sie "
            "14.624 GPU-Stunden, davon nutzte Ihr Bereich 3,83 %.") in cap
    assert "GPU-Auslastung der installierten Kapazität gesamtes Zentrum 4,6 %" in cap
    assert "Im Zentrum sind 32 GPUs installiert" in de_pdf and "4,6 %" in de_pdf
    cap_en = section(en_html, "sec-capacity")
    assert ("The centre has 32 GPUs installed; on the 19 days of operation in this period they offered "
            "14,624 GPU-hours, of which your scope used 3.83%.") in cap_en
    assert "4.6%" in cap_en


def test_funder_economic_use_and_deminimis_text(rendered):
    de = section(rendered["texts"][("freistaat-sachsen", "2026-Q4", "de")]["html"], "sec-state-aid")
    en = section(rendered["texts"][("eu-jtf", "2026-Q4", "en")]["html"], "sec-state-aid")
    assert ("nutzte 2026 bisher 300,0 GPU-Stunden: 2,05 % der installierten Kapazität an den Betriebstagen, "
            "also 10,3 % des zulässigen Umfangs wirtschaftlicher Nebentätigkeit (20 % der Kapazität).") in de
    assert ("used 300.0 GPU-hours so far in 2026: 2.05% of the installed capacity on the days of operation, "
            "that is 10.3% of the allowance for ancillary economic activity (20% of capacity).") in en
    pdf = rendered["texts"][("freistaat-sachsen", "2026-Q4", "de")]["pdf"]
    assert "300,0 GPU-Stunden: 2,05 %" in pdf and "10,3 %" in pdf
    bund = section(rendered["texts"][(*BUND, "de")]["html"], "sec-state-aid")
    assert "Die wirtschaftliche Nutzung des Zentrums wird in diesem Bericht nicht ausgewiesen" in bund
    assert "Unternehmen, darunter vertrauliche (KMU) Weniger als drei Unternehmen: Werte nicht ausgewiesen • – •" in bund
    assert "G-SKRIPT" not in bund and "240.200,00" not in bund and "Vertrauliches KMU" not in bund


def test_installed_gpus_in_capacity_and_facility_sections_of_the_pdfs(rendered):
    assert "Im Zentrum sind 32 GPUs installiert" in rendered["texts"][(*BUND, "de")]["pdf"]
    assert "The centre has 32 GPUs installed" in rendered["texts"][(*BUND, "en")]["pdf"]
    e_de = rendered["texts"][("energy-regulator", "2026", "de")]["pdf"]
    e_en = rendered["texts"][("energy-regulator", "2026", "en")]["pdf"]
    assert "Installierte GPUs 32 GPU-Knoten 4 CPU-Knoten 1 Betriebstage im Zeitraum 19" in e_de
    assert "Installed GPUs 32 GPU nodes 4 CPU nodes 1 Days of operation in the period 19" in e_en
    assert "1.000 m²" in e_de and "3.000 kW" in e_de  # floor area and design power
    assert Lang("de").number(5760, 0) in e_de and Lang("en").number(7200, 0) in e_en
    assert "Data: 2026-10-26–2026-11-06, 12 of 365 days." in e_en


def test_partner_statement_contract_position(rendered):
    oct_de = rendered["texts"][("partner-p-002", "2026-10", "de")]["pdf"]
    oct_en = rendered["texts"][("partner-p-002", "2026-10", "en")]["pdf"]
    nov_de = rendered["texts"][("partner-p-002", "2026-11", "de")]["pdf"]
    # allotment, used in the month, used to date, remaining, share used; then price, list price,
    # GPU-hours, net amount, value at list price and subsidy
    assert "C-002 Kooperationsprojekte 01.01.2026 – 31.12.2026 20.000 80,0 80,0 19.920,0 0,4 %" in oct_de
    assert "C-002 1,20 2,50 80,0 96,00 200,00 104,00" in oct_de
    assert "20,000 80.0 80.0 19,920.0 0.4%" in oct_en
    assert "30.000 80,0 160,0 29.840,0 0,5 %" in nov_de
    assert "Muster Robotik GmbH" in oct_de and "Datenbasis: 26.10.2026–31.10.2026, 6 von 31 Tagen." in oct_de


def test_scope_partner_of_funder_b_never_in_funder_a(rendered):
    for lang in ("de", "en"):
        t = rendered["texts"][(*BUND, lang)]
        for text in (t["html"], t["pdf"], t["csv"]):
            assert "Dresdner Sachsenlabor" not in text and "C-004" not in text and "C-007" not in text
    s = rendered["texts"][("freistaat-sachsen", "2026-Q4", "de")]
    assert "Dresdner Sachsenlabor" in s["html"] and "Dresdner Sachsenlabor" in s["pdf"]
    assert "Muster Robotik" not in s["html"] and "Muster Robotik" not in s["pdf"]


def test_no_confidential_name_or_pseudonym_in_any_output(rendered):
    pseudonyms = rendered["pseudonyms"]
    assert len(pseudonyms) == 16
    for key, t in rendered["texts"].items():
        for fmt, text in t.items():
            for name in CONFIDENTIAL:
                if key[0] == "partner-p-003" and name == "Geheimwerk":
                    continue  # its own statement names it
                assert name not in text, (key, fmt)
            assert not any(p in text for p in pseudonyms), (key, fmt)
            assert not re.search(r"\bu_[0-9a-f]{8,}\b", text), (key, fmt)
    assert "3 Partner, davon 1 vertraulich (KMU)" in rendered["texts"][(*BUND, "de")]["html"]
    assert "Geheimwerk KI GmbH" in rendered["texts"][("partner-p-003", "2026-10", "de")]["pdf"]


def test_partner_name_with_script_is_escaped(rendered):
    t = rendered["texts"][(*BUND, "de")]
    assert "Skript &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; AG" in t["html"]
    assert "<script" not in t["html"].lower()
    assert "Skript <script>alert('x')</script> AG" in t["pdf"]  # shown as text, not run


def test_small_groups_suppressed_in_output(rendered):
    eu = rendered["texts"][("eu-jtf", "2026-Q4", "en")]
    assert "Fewer than three partners: figures suppressed" in eu["html"]
    assert "Partners incl. confidential ones (start-ups)" in section(eu["html"], "sec-contracts")
    p = rendered["texts"][("partner-p-002", "2026-10", "de")]["pdf"]
    assert "Aktive Nutzende < 3" in p  # two users in October


def test_dq_appendix_and_provenance_rendered(rendered, scenario):
    html = rendered["texts"][(*BUND, "en")]["html"]
    dq = section(html, "sec-dq")
    m = re.search(r"(\d+) checks: (\d+) passed, 1 accepted deviations, 0 warnings, 0 critical failures\.", dq)
    assert m and int(m.group(1)) == int(m.group(2)) + 1
    # the summary names the finding in the report's language, with its counts summed over the period
    assert "Every account that used the centre is covered by a partner contract" in dq and "accepted deviation" in dq
    # the per-day results of the check as recorded, summed here independently of the report code
    import duckdb
    with duckdb.connect(str(scenario.snapshot), read_only=True) as con:
        per_day = con.execute(
            "select r.period_start, arg_max(r.observed_value, u.started_at) from audit.dq_results r join audit.dq_runs u "
            "using (run_id) where r.expectation = 'jobs_account_covered' group by r.period_start").fetchall()
    seen = [re.fullmatch(r"(\d+) unexpected of (\d+) rows", o).groups() for _, o in per_day]
    bad, checked = sum(int(b) for b, _ in seen), sum(int(c) for _, c in seen)
    assert (bad, len(per_day)) == (1, 13)  # job 1020, one day; 13 local days carry jobs
    assert f"1 of {checked} records, on 1 of 13 days" in dq
    o = rendered["by"][(*BUND, "en")]
    full = o.csv.with_name(o.csv.name.replace(".csv", ".dq.csv"))
    assert f"“{full.name}”" in dq  # the full list beside the report
    rows = {r["check"]: r for r in csv.DictReader(io.StringIO(full.read_text(encoding="utf-8")))}
    assert len(rows) == int(m.group(1))
    assert (rows["jobs_account_covered"]["outcome"], rows["jobs_account_covered"]["unexpected_records"],
            rows["jobs_account_covered"]["days_with_finding"]) == ("accepted deviation", "1", "1")
    de = section(rendered["texts"][(*BUND, "de")]["html"], "sec-dq")
    assert "Jedes Konto" in de and "Every account" not in de
    assert "zz-legacy is the test account of [confidential]&#39;s pilot" in html
    prov = section(html, "sec-provenance")
    assert all(run in prov for run in rendered["dq_runs"]) and len(rendered["dq_runs"]) == 2
    o = rendered["by"][(*BUND, "en")]
    assert o.data_hash[:6] in prov  # the run id
    assert "kirz-base.duckdb" in prov and "open: no critical data-quality failure" in prov
    assert "/landing/" not in html  # file names only in the manifest
    manifest = json.loads(o.manifest.read_text())
    assert {i["file"] for i in manifest["inputs"]} >= {"sacct-2026-11-06.txt", "inventory.yaml"}
    assert manifest["dq_run_ids"] == sorted(rendered["dq_runs"])


def test_csv_holds_the_figures(rendered):
    de = {r["schluessel"]: r for r in csv.DictReader(io.StringIO(rendered["texts"][(*BUND, "de")]["csv"]))}
    assert de["scope.gpu_hours"]["wert"] == "560"
    assert de["scope.cost_eur"]["wert"] == "422"
    assert de["contract.C-002.gpu_hours_used"]["wert"] == "160"
    assert de["contract.confidential_group.gpu_hours_used"]["wert"] == "160"
    assert de["centre.installed_gpus"]["wert"] == "32"
    assert (de["centre.economic_use_allowance_share_pct"]["wert"], de["regional.revier_gpu_hours"]["hinweis"]) == (
        "", "nicht ausgewiesen (Schutz vertraulicher Angaben)")  # withheld: they would single out part of the group
    en = {r["key"]: r for r in csv.DictReader(io.StringIO(rendered["texts"][("eu-jtf", "2026-Q4", "en")]["csv"]))}
    assert en["centre.economic_use_allowance_share_pct"]["value"] == "10.257"
    assert en["contract.confidential_group.gpu_hours_used"]["value"] == ""
    # a value of fewer than three partners: withheld, not "< 3" (which would read as a small number)
    assert en["contract.confidential_group.gpu_hours_used"]["note"] == "withheld (protects confidential figures)"


def test_funder_csv_figures_are_the_reporting_models_columns(rendered):
    """One home per rule: every figure of the funder CSV is a column of a dbt model of the snapshot."""
    table = list(csv.DictReader(io.StringIO(rendered["texts"][(*BUND, "en")]["csv"])))
    csv_rows = {r["key"]: r["value"] for r in table}
    con = open_readonly(rendered["db"])
    try:
        scope = {r["usage_area"]: r for r in rows(
            con, "select * from reporting.rpt_scope_period where scope_key = 'funder:bund-strukturwandel' "
                 "and period_type = 'quarter' and period = '2026-Q4'")}
        centre = rows(con, "select * from reporting.rpt_scope_period where scope_key = 'all' "
                           "and period = '2026-Q4' and usage_area = 'all'")[0]
        contracts = {r["contract_id"]: r for r in rows(
            con, "select * from reporting.rpt_contract_period where period = '2026-Q4' and contract_id in "
                 "(select contract_id from marts.dim_contract where list_contains(funders, 'bund-strukturwandel'))")}
        coverage = rows(con, "select * from reporting.rpt_period_coverage where period = '2026-Q4'")[0]
        state_aid = rows(con, "select * from reporting.rpt_state_aid where period = '2026-Q4'")[0]
        kpis = dict(con.execute("select kpi, value from marts.fct_impact_kpis where period = '2026-Q4' "
                                "and usage_area = 'all'").fetchall())
    finally:
        con.close()
    named = {k.split(".")[1] for k in csv_rows if k.startswith("contract.C-")}
    withheld = {r["key"] for r in table if r["note"]}
    assert withheld == {  # what would single out part of the confidential group (tests/test_disclosure.py)
        "scope.new_partners", "scope.revier_gpu_hour_share_pct", "scope.company_gpu_hour_share_pct",
        "area.cooperation.gpu_hours", "area.education.gpu_hours", "regional.revier_gpu_hours",
        "centre.economic_use_capacity_share_pct", "centre.economic_use_allowance_share_pct"}
    expected = {}
    for key in set(csv_rows) - withheld:
        part = key.split(".")
        if part[0] == "scope":
            expected[key] = scope["all"][part[1]]
        elif part[0] == "area":
            expected[key] = scope[part[1]][part[2]]
        elif key == "regional.revier_gpu_hours":
            expected[key] = scope["all"]["revier_gpu_hours"]
        elif key == "cooperation.active":
            expected[key] = scope["cooperation"]["cooperation_projects_active"]
        elif key == "education.courses_centre":
            expected[key] = centre["courses"]
        elif key == "centre.installed_gpus":
            expected[key] = coverage["installed_gpus"]
        elif key == "centre.economic_use_capacity_share_pct":
            expected[key] = state_aid["share_of_capacity_pct"]
        elif key == "centre.economic_use_allowance_share_pct":
            expected[key] = state_aid["share_of_allowance_pct"]
        elif part[0] == "centre":
            expected[key] = kpis.get(part[1])  # no heat reuse or ledger here: ERF and REF have no value
        elif key == "contract.confidential_group.gpu_hours_used":  # the group adds up its members' rows
            expected[key] = sum(r["gpu_hours"] for c, r in contracts.items() if c not in named)
        elif part[0] == "contract":
            expected[key] = contracts[part[1]]["gpu_hours"]
    assert set(expected) | withheld == set(csv_rows)  # no figure without a home
    for key, value in expected.items():
        if value is None:
            assert csv_rows[key] == "", key
        else:
            assert float(csv_rows[key]) == pytest.approx(float(value), abs=5e-3), key  # two more decimals than printed
    assert len(csv_rows) == 36 and float(csv_rows["scope.gpu_hours"]) == 560


def test_html_is_self_contained(rendered):
    for key, t in rendered["texts"].items():
        html = t["html"]
        assert "<link" not in html and "src=\"http" not in html and "url(http" not in html, key
        assert "<style>" in html, key
        if rendered["by"][key].kind != "partner_statement":  # a statement is tables and sentences only
            assert "<svg" in html, key


def test_templates_fail_loudly_on_a_missing_value(rendered):
    con = open_readonly(rendered["db"])
    try:
        rec = Recipient("x", "x", "funder", ("de",), Scope(funders=("eu-jtf",)), (ReportSpec("funder_impact", "quarter"),))
        data = build_funder_report(con, rec, Period.parse("2026-Q4"), rendered["settings"], run_id="r", code_version="c")
    finally:
        con.close()
    render_html(data, "de", VersionInfo(1, datetime.now(timezone.utc)))  # renders as built
    del data["regional"]["new_named"]
    with pytest.raises(UndefinedError):
        render_html(data, "de", VersionInfo(1, datetime.now(timezone.utc)))


def test_funder_report_opens_with_a_summary(rendered):
    """Page 2 (after the cover): coverage, the headline figures without a previous period (none
    exists), a paragraph per usage area written from the figures, one for the Revier; the cover
    carries the recipient's funding line and the logo."""
    html = rendered["texts"][(*BUND, "de")]["html"]
    sm = section(html, "sec-summary")
    assert "4. Quartal 2026 auf einen Blick" in sm
    assert "Datenbasis: 26.10.2026–06.11.2026, 12 von 92 Tagen" in sm
    assert "Vorperiode:" not in sm and "Vergleichswerte einer Vorperiode gibt es noch nicht" in sm
    # 240 of the scope's 560 GPU-hours are methods research: 42.857 % -> "42,9 %"
    assert "Forschung zu KI-Methoden. 240,0 GPU-Stunden (42,9 % Ihres Bereichs) in 5 Jobs" in sm
    # the cooperation area's hours would single out the confidential group: said in words, no marks
    assert "Kooperationsprojekte. Die GPU-Stunden und Jobs dieses Bereichs werden nicht einzeln ausgewiesen" in sm
    assert "Kursteilnehmende" in sm and "Auszubildende" not in html
    assert "Emissionen, standortbasiert" in html
    assert "Gefördert durch den Bund im Rahmen des Investitionsgesetzes Kohleregionen (InvKG)" in html
    assert html.index('id="sec-summary"') < html.index('id="toc"') < html.index('id="sec-headline"')
    assert '<svg class="mark"' in html
    en = section(rendered["texts"][("eu-jtf", "2026-Q4", "en")]["html"], "sec-summary")
    assert en.startswith("Q4 2026 at a glance")
    assert "There is no previous period to compare with yet" in en
