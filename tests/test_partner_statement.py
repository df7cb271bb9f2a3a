"""The partner statement as a statement: monthly and yearly, from the report scenario.

The scenario (tests/report_scenario.py, jobs and prices in the docstring of
tests/test_report_data.py): list price 2.50 EUR per GPU-hour, VAT 19 % (var vat_rate). Partner
P-002 (Muster Robotik GmbH, an SME of the single undertaking G-SKRIPT with P-005) holds C-002:
term 2026-01-01..2026-12-31, 1.20 EUR per GPU-hour, signed 2025-12-10 with 20,000 GPU-hours,
amended to 30,000 from 2026-11-01, 200,000 EUR of de-minimis aid declared from elsewhere.

Worked out by hand:

- October 2026: jobs 1005 (8 h x 8 GPUs = 64 GPU-h, 32 kWh) and 1006 (2 h x 8 = 16, 8 kWh):
  used 80, to date 80, remaining 20,000 - 80 = 19,920 (0.4 % used); net 80 x 1.20 = 96.00,
  value at list price 80 x 2.50 = 200.00, subsidy 104.00, VAT 96.00 x 0.19 = 18.24, gross
  114.24; IT energy 40 kWh, facility 40 x 1.25 = 50 kWh. Days with use: 10-27 and 10-30 only.
- November 2026: jobs 1019 (5 h x 8 = 40, 20 kWh) and 1007 (10 h x 4 = 40, alone on gpu003:
  40 kWh): used 80, to date 160, remaining 30,000 - 160 = 29,840; net 96.00, VAT 18.24, gross
  114.24.
- Year 2026: used 160 (October 80, November 80; the other ten months have no use and are left
  out), remaining 29,840; net 192.00, value 400.00, subsidy 208.00, VAT 36.48, gross 228.48;
  EnEfG § 15 energy: IT 32 + 8 + 20 + 40 = 100 kWh, facility 100 x 1.25 = 125 kWh (October 40 /
  50, November 60 / 75).
- De-minimis (Reg. (EU) 2023/2831): C-002 signed 2025-12-10 grants 20,000 x (2.50 - 1.20) =
  26,000.00; the amendment of 2026-11-01 is worth 30,000 x 1.30 = 39,000, so it grants 13,000.00.
  C-005 (P-005, same undertaking) grants 2,400 x (2.50 - 2.00) = 1,200 on 2026-10-15. G-SKRIPT at
  the end of October (window 2023-11-01..2026-10-31): 26,000 + 1,200 + 200,000 = 227,200.00
  = 75.73 % of 300,000 (ok); at the end of November and of 2026: + 13,000 = 240,200.00 = 80.07 %
  (warning). P-003 (Geheimwerk KI GmbH, confidential, its own statement names it): C-003 signed
  2026-09-20 grants 6,000 x (2.50 - 1.50) = 6,000.00, 2.0 %, nothing declared from elsewhere.
  P-001 is a university: no de-minimis notice.
- Statement numbers: KIRZ-2026-10-P-002-v1, KIRZ-2026-P-002-v1, KIRZ-2026-10-P-003-v1.
"""

import csv
import io
import json
import shutil
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook
from pypdf import PdfReader

import report_scenario
from kirz.reporting import due_reports, report
from kirz.reporting.data import open_readonly, rows
from kirz.reporting.energy_annual import build_energy_report
from kirz.reporting.funder_impact import build_funder_report
from kirz.reporting.model import Period
from kirz.reporting.partner_statement import build_partner_statement
from kirz.reporting.recipients import Recipient, ReportSpec, Scope, load_definitions
from kirz.reporting.render import REPO_REPORTS, VersionInfo, render_csv, render_html, render_xlsx

REGULATION_DE = ("Verordnung (EU) 2023/2831 der Kommission vom 13. Dezember 2023 über die Anwendung der Artikel "
                 "107 und 108 des Vertrags über die Arbeitsweise der Europäischen Union auf De-minimis-Beihilfen")
REGULATION_EN = ("Commission Regulation (EU) 2023/2831 of 13 December 2023 on the application of Articles 107 and "
                 "108 of the Treaty on the Functioning of the European Union to de minimis aid")
P2 = "partner-p-002"


def pdf_pages(path: Path) -> list[str]:
    """Each page's text with all white space made single spaces."""
    return [" ".join(p.extract_text().split()) for p in PdfReader(str(path)).pages]


def partner(pid, contracts, every="month"):
    return Recipient(f"partner-{pid.lower()}", pid, "partner", ("de",), Scope(contracts=tuple(contracts)),
                     (ReportSpec("partner_statement", every),), partner_id=pid)


@pytest.fixture(scope="session")
def scenario(tmp_path_factory):
    return report_scenario.shared(tmp_path_factory)


@pytest.fixture(scope="module")
def con(scenario):
    c = open_readonly(scenario.snapshot)
    yield c
    c.close()


def build(con, scenario, pid, contracts, period):
    return build_partner_statement(con, partner(pid, contracts), Period.parse(period), scenario.settings,
                                   run_id="rep-test", code_version="test")


@pytest.fixture(scope="module")
def recipients(tmp_path_factory):
    """The scenario's recipients, the partners' template also issuing a yearly statement (as the
    repository's reports/recipients/partners.yaml does)."""
    folder = tmp_path_factory.mktemp("recipients") / "recipients"
    shutil.copytree(report_scenario.RECIPIENTS, folder)
    doc = yaml.safe_load((folder / "partners.yaml").read_text())
    doc["reports"].append({"kind": "partner_statement", "every": "year"})
    (folder / "partners.yaml").write_text(yaml.safe_dump(doc))
    return folder


@pytest.fixture(scope="module")
def rendered(scenario, recipients, tmp_path_factory):
    """P-002's statements for October (de, en), November (de) and 2026 (de, en), P-003's and
    P-001's for October, rendered through kirz.reporting.report."""
    settings = report_scenario.settings_for(tmp_path_factory.mktemp("statement-home"), recipients=recipients)
    db = scenario.snapshot
    outs = []
    for rid, period, langs in ((P2, "2026-10", ["de", "en"]), (P2, "2026-11", ["de"]), (P2, "2026", ["de", "en"]),
                               ("partner-p-003", "2026-10", ["de"]), ("partner-p-001", "2026-10", ["de"])):
        outs += report(settings, recipient=rid, period=period, langs=langs, db=db)
    return {"settings": settings, "db": db,
            "by": {(o.recipient, o.period, o.lang): o for o in outs},
            "pages": {(o.recipient, o.period, o.lang): pdf_pages(o.pdf) for o in outs}}


def text_of(rendered, *key) -> str:
    return " ".join(rendered["pages"][key])


# ---------------------------------------------------------------- figures, from the reporting models

def test_monthly_position_and_amounts(con, scenario):
    oct_ = build(con, scenario, "P-002", ["C-002"], "2026-10")
    (c,) = oct_["contracts"]
    got = {k: c[k].value for k in ("allotment", "used", "used_to_date", "remaining", "price", "list_price", "net",
                                   "compute_value", "subsidy")}
    assert got == pytest.approx({"allotment": 20000, "used": 80, "used_to_date": 80, "remaining": 19920,
                                 "price": 1.20, "list_price": 2.50, "net": 96.00, "compute_value": 200.00,
                                 "subsidy": 104.00})
    assert c["used_share"].value == pytest.approx(100 * 80 / 20000)
    a = oct_["amounts"]
    assert (a["net"].value, a["vat_rate"].value, a["vat"].value, a["gross"].value) == pytest.approx(
        (96.00, 19.0, 18.24, 114.24))
    assert (oct_["totals"]["it_energy_kwh"].value, oct_["totals"]["facility_energy_kwh"].value) == pytest.approx(
        (40.0, 50.0))
    nov = build(con, scenario, "P-002", ["C-002"], "2026-11")
    (c,) = nov["contracts"]
    assert (c["allotment"].value, c["used"].value, c["used_to_date"].value, c["remaining"].value,
            c["net"].value) == pytest.approx((30000, 80, 160, 29840, 96.00))
    a = nov["amounts"]
    assert (a["net"].value, a["vat"].value, a["gross"].value) == pytest.approx((96.00, 18.24, 114.24))


def test_vat_rate_is_the_published_setting(con):
    (value,) = con.execute("select value from ref.settings where setting = 'vat_rate'").fetchone()
    assert json.loads(value) == 0.19
    assert {r["vat_rate"] for r in rows(con, "select distinct vat_rate from reporting.rpt_contract_period")} == {0.19}


def test_statement_number_and_legal_names(con, scenario):
    p2 = build(con, scenario, "P-002", ["C-002"], "2026-10")
    assert p2["statement"]["number"] == "KIRZ-2026-10-P-002" and p2["recipient"]["name"] == "Muster Robotik GmbH"
    year = build_partner_statement(con, partner("P-002", ["C-002"], "year"), Period.parse("2026"),
                                   scenario.settings, run_id="rep-test", code_version="test")
    assert year["statement"]["number"] == "KIRZ-2026-P-002"
    # confidential to third parties, named on its own statement
    assert build(con, scenario, "P-003", ["C-003"], "2026-10")["recipient"]["name"] == "Geheimwerk KI GmbH"


def test_deminimis_notice_grants_and_undertaking_total(con, scenario):
    oct_ = build(con, scenario, "P-002", ["C-002"], "2026-10")["deminimis"]
    assert oct_["applies"] and oct_["granted"] and oct_["is_group"] and oct_["undertaking"] == "G-SKRIPT"
    assert [(g["granted_on"], g["contract_id"], g["event"].key, g["aid"].value) for g in oct_["grants"]] == [
        (date(2025, 12, 10), "C-002", "signature", 26000.0)]
    assert (oct_["window_start"], oct_["period_end"]) == (date(2023, 11, 1), date(2026, 10, 31))
    assert (oct_["total"].value, oct_["aid_in_window"].value, oct_["other"].value) == pytest.approx(
        (227200.0, 27200.0, 200000.0))
    assert oct_["share"].value == pytest.approx(100 * 227200 / 300000) and oct_["status_key"] == "ok"
    nov = build(con, scenario, "P-002", ["C-002"], "2026-11")["deminimis"]
    assert [(g["granted_on"], g["event"].key, g["allotment"].value, g["aid"].value) for g in nov["grants"]] == [
        (date(2025, 12, 10), "signature", 20000, 26000.0), (date(2026, 11, 1), "amendment", 30000, 13000.0)]
    assert nov["total"].value == pytest.approx(240200.0) and nov["status_key"] == "warning"
    p3 = build(con, scenario, "P-003", ["C-003"], "2026-10")["deminimis"]
    assert not p3["is_group"] and p3["undertaking"] == "Geheimwerk KI GmbH"
    assert [(g["granted_on"], g["aid"].value) for g in p3["grants"]] == [(date(2026, 9, 20), 6000.0)]
    assert (p3["total"].value, p3["other"].value, p3["share"].value) == pytest.approx((6000.0, 0.0, 2.0))
    assert build(con, scenario, "P-001", ["C-001"], "2026-10")["deminimis"] == {"applies": False}


def test_yearly_statement_totals_and_energy(con, scenario):
    data = build_partner_statement(con, partner("P-002", ["C-002"], "year"), Period.parse("2026"),
                                   scenario.settings, run_id="rep-test", code_version="test")
    assert data["yearly"] and data["daily"] == []
    (c,) = data["contracts"]
    assert (c["allotment"].value, c["used"].value, c["used_to_date"].value, c["remaining"].value) == (
        30000, 160, 160, 29840)
    assert (c["it_energy"].value, c["facility_energy"].value) == pytest.approx((100.0, 125.0))
    t, a = data["totals"], data["amounts"]
    assert (t["it_energy_kwh"].value, t["facility_energy_kwh"].value) == pytest.approx((100.0, 125.0))
    assert (t["compute_value_eur"].value, t["subsidy_eur"].value) == pytest.approx((400.0, 208.0))
    assert (a["net"].value, a["vat"].value, a["gross"].value) == pytest.approx((192.00, 36.48, 228.48))
    # months without use are left out
    assert [(r["month"].label, r["gpu_hours"].value, r["it"].value, r["facility"].value) for r in data["monthly"]] == [
        ("2026-10", 80.0, 40.0, 50.0), ("2026-11", 80.0, 60.0, 75.0)]
    assert data["deminimis"]["total"].value == pytest.approx(240200.0)


def test_a_year_without_operating_data_lists_the_grants_without_a_position(con, scenario):
    """2025 has no operating data (no calendar rows, so no rpt_deminimis position), but C-002 was
    signed on 2025-12-10: the notice lists that grant and says the position is not available,
    never that no aid was granted."""
    data = build_partner_statement(con, partner("P-002", ["C-002"], "year"), Period.parse("2025"),
                                   scenario.settings, run_id="rep-test", code_version="test")
    dm = data["deminimis"]
    assert dm["applies"] and dm["granted"] and not dm["position"]
    assert [(g["granted_on"], g["aid"].value) for g in dm["grants"]] == [(date(2025, 12, 10), 26000.0)]
    assert data["contracts"] == [] and not data["amounts"]["available"]
    html = render_html(data, "de", VersionInfo(1, datetime(2026, 12, 5, tzinfo=timezone.utc)))
    assert "26.000,00" in html and "für diesen Zeitraum liegen keine vor" in html
    assert "keine De-minimis-Beihilfe gewährt" not in html


def test_statement_figures_are_the_reporting_models_columns(rendered):
    """One home per rule: the statement's CSV prints columns of the reporting models."""
    o = rendered["by"][(P2, "2026-11", "de")]
    fig = {r["schluessel"]: float(r["wert"]) for r in csv.DictReader(io.StringIO(o.csv.read_text(encoding="utf-8")))
           if r["wert"]}
    con = open_readonly(rendered["db"])
    try:
        line = rows(con, "select * from reporting.rpt_contract_period where contract_id = 'C-002' "
                         "and period = '2026-11'")[0]
        amounts = rows(con, "select * from reporting.rpt_partner_amounts where partner_id = 'P-002' "
                            "and period = '2026-11'")[0]
        grants = {r["grant_key"]: r["aid_eur"] for r in rows(con, "select * from reporting.rpt_deminimis_grants")}
        position = rows(con, "select * from reporting.rpt_deminimis where undertaking_id = 'G-SKRIPT' "
                             "and period = '2026-11'")[0]
    finally:
        con.close()
    for key in ("allotment_gpu_hours", "gpu_hours", "used_to_date_gpu_hours", "remaining_gpu_hours",
                "price_eur_per_gpu_hour", "list_price_eur_per_gpu_hour", "cost_eur", "compute_value_eur",
                "subsidy_eur"):
        assert fig[f"contract.C-002.{key}"] == pytest.approx(line[key], abs=1e-3), key
    # one contract: the statement's VAT and gross are its line's
    assert (line["vat_eur"], line["gross_eur"]) == pytest.approx((amounts["vat_eur"], amounts["gross_eur"]))
    for key in ("net_eur", "vat_eur", "gross_eur"):
        assert fig[f"amounts.{key}"] == pytest.approx(amounts[key]), key
    assert fig["amounts.vat_rate_pct"] == pytest.approx(100 * amounts["vat_rate"])
    assert fig["deminimis.C-002#v0.aid_eur"] == grants["C-002#v0"] == 26000
    assert fig["deminimis.C-002#v1.aid_eur"] == grants["C-002#v1"] == 13000
    assert fig["deminimis.undertaking_total_eur"] == position["total_eur"] == 240200
    assert (fig["amounts.net_eur"], fig["amounts.vat_eur"], fig["amounts.gross_eur"]) == (96, 18.24, 114.24)


# ---------------------------------------------------------------- what the partner reads

def test_statement_pdf_says_it(rendered):
    de = text_of(rendered, P2, "2026-10", "de")
    en = text_of(rendered, P2, "2026-10", "en")
    assert "Muster Robotik GmbH" in de and "KIRZ-2026-10-P-002-v1" in de and "KIRZ-2026-10-P-002-v1" in en
    assert "Nettobetrag (EUR) 96,00 Umsatzsteuer 19 % (EUR) 18,24 Bruttobetrag (EUR) 114,24" in de
    assert "Net amount (EUR) 96.00 VAT 19% (EUR) 18.24 Gross amount (EUR) 114.24" in en
    assert "C-002 1,20 2,50 80,0 96,00 200,00 104,00" in de  # price, list price, GPU-h, net, value, subsidy
    assert REGULATION_DE in de and "(ABl. L, 2023/2831, 15.12.2023)" in de
    assert REGULATION_EN in en and "(OJ L, 2023/2831, 15.12.2023)" in en
    assert "10.12.2025 C-002 Vertragsabschluss 20.000 2,50 1,20 26.000,00" in de
    assert ("Dreijahreszeitraum 01.11.2023 – 31.10.2026 De-minimis-Beihilfen von insgesamt 227.200,00 EUR erhalten: "
            "27.200,00 EUR vom KI-Rechenzentrum Leipzig und 200.000,00 EUR") in de
    assert "That is 75.7% of the ceiling of 300,000 EUR" in en
    # days without use left out: two days of October
    assert "27.10.2026 64,0 32,0 40,0" in de and "30.10.2026 16,0 8,0 10,0" in de
    assert "26.10.2026" not in de.split("Nutzung nach Tagen", 1)[1].split("Summe", 1)[0]
    # the short data-quality note, not the full list of checks
    assert "Hinweis zur Datenqualität" in de and "jobs_account_covered" not in de
    assert "zz-legacy is the test account of [confidential]" in de
    nov = text_of(rendered, P2, "2026-11", "de")
    assert "01.11.2026 C-002 Nachtrag 30.000 2,50 1,20 13.000,00" in nov and "240.200,00" in nov


def test_confidential_partners_own_statement_names_it(rendered):
    p3 = text_of(rendered, "partner-p-003", "2026-10", "de")
    assert "Nachweis für Geheimwerk KI GmbH" in p3 and "KIRZ-2026-10-P-003-v1" in p3
    assert "Ihr Unternehmen (Geheimwerk KI GmbH) hat im Dreijahreszeitraum" in p3
    assert "aus anderen Quellen haben Sie keine angegeben" in p3
    for key in ((P2, "2026-10", "de"), (P2, "2026", "en"), ("partner-p-001", "2026-10", "de")):
        assert "Geheimwerk" not in text_of(rendered, *key)


def test_no_deminimis_notice_for_a_university(rendered):
    p1 = text_of(rendered, "partner-p-001", "2026-10", "de")
    assert "Universität Leipzig" in p1 and "2023/2831" not in p1 and "De-minimis" not in p1


def test_yearly_statement_through_the_recipients_with_the_enefg_energy(rendered):
    o = rendered["by"][(P2, "2026", "de")]
    assert (o.kind, o.period, o.version) == ("partner_statement", "2026", 1)
    de = text_of(rendered, P2, "2026", "de")
    en = text_of(rendered, P2, "2026", "en")
    assert "KIRZ-2026-P-002-v1" in de
    assert "Ihnen zurechenbarer Energieverbrauch 2026 (§ 15 EnEfG)" in de
    assert "Energy consumption attributable to you in 2026 (section 15 EnEfG)" in en
    assert "C-002 100,0 125,0 Summe 100,0 125,0" in de
    assert "Methode: Die gemessene Energie jedes Knotens wird Minute für Minute" in de
    assert "Oktober 2026 80,0 40,0 50,0" in de and "November 2026 80,0 60,0 75,0" in de
    assert "Dezember 2026" not in de and "Januar 2026" not in de
    assert "Nettobetrag (EUR) 192,00 Umsatzsteuer 19 % (EUR) 36,48 Bruttobetrag (EUR) 228,48" in de


def test_page_budget_two_pages_and_a_short_note(rendered):
    for key, pages in rendered["pages"].items():
        assert len(pages) <= 3, (key, len(pages))
        # page 1: who, which statement, and what it comes to
        assert "KIRZ-" in pages[0] and ("Bruttobetrag" in pages[0] or "Gross amount" in pages[0]), key
        # the statement proper (to its last section, the jobs by state) on two pages; a third page
        # holds no more than the data-quality note and the provenance
        assert any("Jobs nach Status" in p or "Jobs by state" in p for p in pages[:2]), key
        if len(pages) == 3:
            assert not any(s in pages[2] for s in ("Nettobetrag", "Net amount", "Jobs nach Status", "Jobs by state"))
    # the whole notice (its title to the keep-this sentence) on one page
    for key in ((P2, "2026-11", "de"), (P2, "2026", "en"), ("partner-p-003", "2026-10", "de")):
        assert any(("Mitteilung über De-minimis-Beihilfen" in p and "Bitte bewahren Sie diese Mitteilung auf" in p)
                   or ("Notice of de minimis aid" in p and "Please keep this notice" in p)
                   for p in rendered["pages"][key]), key


def test_year_is_a_period_of_the_partner_statement(rendered, scenario):
    tpl = load_definitions(REPO_REPORTS / "recipients").auto_partner_templates[0]
    assert ("partner_statement", "year") in [(spec.kind, spec.every) for spec in tpl["reports"]]
    due = due_reports(rendered["settings"], date(2027, 1, 15), db=scenario.snapshot)
    # the year is due; December has no data, so no monthly statement is due for it
    assert (P2, "partner_statement", "2026") in due and (P2, "partner_statement", "2026-12") not in due


# ---------------------------------------------------------------- the spreadsheet beside the CSV

def xlsx_rows(path: Path) -> list[tuple]:
    return [tuple(r) for r in load_workbook(path).active.iter_rows(values_only=True)]


def assert_same_rows(csv_text: str, sheet: list[tuple]):
    table = list(csv.reader(io.StringIO(csv_text)))
    assert len(sheet) == len(table) and tuple(sheet[0]) == tuple(table[0])
    for got, want in zip(sheet[1:], table[1:]):
        assert [got[0], got[1] or "", got[2], got[4] or "", got[5] or ""] == [want[0], want[1], want[2], want[4],
                                                                              want[5]]
        if want[3] == "":
            assert got[3] is None, want
        else:
            assert isinstance(got[3], (int, float)) and not isinstance(got[3], bool), want
            assert got[3] == float(want[3]), want


def test_xlsx_beside_each_csv_holds_the_same_rows_as_numbers(rendered):
    for key, o in rendered["by"].items():
        assert o.xlsx == o.csv.with_suffix(".xlsx") and o.xlsx.exists(), key
        assert_same_rows(o.csv.read_text(encoding="utf-8"), xlsx_rows(o.xlsx))
        manifest = json.loads(o.manifest.read_text())
        assert set(manifest["files"]) == {o.html.name, o.pdf.name, o.csv.name, o.xlsx.name,
                                          o.csv.name.replace(".csv", ".dq.csv")}
    sheet = {r[0]: r[3] for r in xlsx_rows(rendered["by"][(P2, "2026-10", "de")].xlsx)}
    assert (sheet["amounts.net_eur"], sheet["amounts.vat_eur"], sheet["amounts.gross_eur"]) == (96, 18.24, 114.24)
    assert sheet["deminimis.undertaking_total_eur"] == 227200 and sheet["total.users"] is None  # "< 3"
    # the same data again: the existing version and its spreadsheet
    (again,) = report(rendered["settings"], recipient=P2, period="2026-10", langs=["de"], db=rendered["db"])
    assert not again.new and again.xlsx == rendered["by"][(P2, "2026-10", "de")].xlsx


def test_xlsx_of_the_other_kinds(con, scenario, tmp_path):
    bund = Recipient("bund", "Bund", "funder", ("de",), Scope(funders=("bund-strukturwandel",)),
                     (ReportSpec("funder_impact", "quarter"),))
    regulator = Recipient("reg", "Reg", "regulator", ("en",), Scope(everything=True),
                          (ReportSpec("energy_annual", "year"),))
    for fn, rec, period, lang in ((build_funder_report, bund, "2026-Q4", "de"),
                                  (build_energy_report, regulator, "2026", "en")):
        data = fn(con, rec, Period.parse(period), scenario.settings, run_id="rep-test", code_version="test")
        path = tmp_path / f"{data['kind']}.xlsx"
        path.write_bytes(render_xlsx(data, lang))
        assert_same_rows(render_csv(data, lang), xlsx_rows(path))
        assert load_workbook(path).active.title == data["kind"]
