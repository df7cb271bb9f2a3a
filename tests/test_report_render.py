"""Every report kind rendered in both languages from the fixture warehouse, read back from the PDF."""

import csv
import io
from pathlib import Path

import pytest
from jinja2 import UndefinedError
from pypdf import PdfReader

from kirz.config import load_settings
from kirz.reporting import report
from kirz.reporting.data import build_funder_report, open_readonly
from kirz.reporting.model import Period
from kirz.reporting.recipients import Recipient, ReportSpec, Scope
from kirz.reporting.render import Lang, VersionInfo, render_html

FIXTURES = Path(__file__).parent / "fixtures" / "reports"
CONFIDENTIAL = ("Geheimwerk", "Verdeckte Start-up")


def build_fixture_warehouse(path: Path) -> Path:
    from kirz.warehouse import connect, init_schema

    con = connect(path)
    init_schema(con)
    con.execute((FIXTURES / "warehouse.sql").read_text(encoding="utf-8"))
    con.close()
    return path


def pdf_text(path: Path) -> str:
    """The PDF's text with all white space (line breaks inside table cells too) made single spaces."""
    return " ".join(" ".join(p.extract_text() for p in PdfReader(str(path)).pages).split())


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Render the fixture's reports once: (recipient, kind, lang) -> output."""
    home = tmp_path_factory.mktemp("home")
    db = build_fixture_warehouse(tmp_path_factory.mktemp("wh") / "kirz.duckdb")
    settings = load_settings(env={}, home=home, pseudonym_key="k",
                             extra={"recipients_dir": str(FIXTURES / "recipients")})
    outs = []
    outs += report(settings, recipient="bund-strukturwandel", period="2026-Q4", langs=["de", "en"], db=db)
    outs += report(settings, recipient="freistaat-sachsen", period="2026-Q4", db=db)
    outs += report(settings, recipient="eu-jtf", period="2026-Q4", langs=["en"], db=db)
    outs += report(settings, recipient="partner-p-002", period="2026-10", langs=["de", "en"], db=db)
    outs += report(settings, recipient="partner-p-003", period="2026-10", db=db)
    outs += report(settings, recipient="energy-regulator", period="2026", langs=["de", "en"], db=db)
    by = {(o.recipient, o.kind, o.lang): o for o in outs}
    texts = {k: (o.html.read_text(encoding="utf-8"), pdf_text(o.pdf), o.csv.read_text(encoding="utf-8"))
             for k, o in by.items()}
    return {"by": by, "texts": texts, "db": db, "settings": settings}


def test_every_kind_in_both_languages(rendered):
    keys = set(rendered["by"])
    for kind, rid in (("funder_impact", "bund-strukturwandel"), ("partner_statement", "partner-p-002"),
                      ("energy_annual", "energy-regulator")):
        for lang in ("de", "en"):
            o = rendered["by"][(rid, kind, lang)]
            assert (rid, kind, lang) in keys and o.version == 1 and o.new
            assert o.pdf.read_bytes().startswith(b"%PDF")
            assert o.html.name == f"{kind}.{lang}.v1.html"
            assert o.html.parent == rendered["settings"].reports_dir / rid / o.period


def test_funder_pdf_headline_numbers_equal_the_marts(rendered):
    de_html, de_pdf, _ = rendered["texts"][("bund-strukturwandel", "funder_impact", "de")]
    en_html, en_pdf, _ = rendered["texts"][("bund-strukturwandel", "funder_impact", "en")]
    con = open_readonly(rendered["db"])
    try:
        gpu_h = con.execute("select sum(gpu_hours) from marts.fct_usage_daily where day between '2026-10-01' and "
                            "'2026-12-31' and contract_id in ('C-001','C-002','C-003','C-005','C-006')").fetchone()[0]
        pue = con.execute("select value from marts.fct_impact_kpis where period = '2026-Q4' and kpi = 'pue' "
                          "and usage_area = 'all'").fetchone()[0]
        fac = con.execute("select value from marts.fct_impact_kpis where period = '2026-Q4' "
                          "and kpi = 'facility_energy_kwh' and usage_area = 'all'").fetchone()[0]
    finally:
        con.close()
    assert gpu_h == 440
    de, en = Lang("de"), Lang("en")
    for text, lang in ((de_pdf, de), (en_pdf, en)):
        assert lang.number(gpu_h, 1) in text           # 440,0 / 440.0
        assert lang.number(pue, 2) in text             # 1,24 / 1.24
        assert lang.number(fac, 0) in text             # 762.500 / 762,500
        assert lang.number(374.0, 2) in text           # cost charged
    assert "+266,7 %" in de_pdf and "+266.7%" in en_pdf
    assert "90,9 %" in de_pdf and "90.9%" in en_pdf    # Revier share
    assert "Wirkungsbericht" in de_pdf and "Impact report" in en_pdf
    assert "Inhalt" in de_pdf and "Contents" in en_pdf
    assert "Seite 1 von" not in de_pdf and "Seite 2 von" in de_pdf  # no footer on the cover, then numbered


def test_partner_and_energy_pdf_numbers(rendered):
    _, p_de, _ = rendered["texts"][("partner-p-002", "partner_statement", "de")]
    _, p_en, _ = rendered["texts"][("partner-p-002", "partner_statement", "en")]
    assert "80,0" in p_de and "96,00" in p_de and "3,2 %" in p_de
    assert "80.0" in p_en and "96.00" in p_en and "3.2%" in p_en
    assert "Muster Robotik GmbH" in p_de
    _, e_de, _ = rendered["texts"][("energy-regulator", "energy_annual", "de")]
    _, e_en, _ = rendered["texts"][("energy-regulator", "energy_annual", "en")]
    it_year = sum(150000 + 5000 * m for m in range(1, 13))
    fac_year = sum((150000 + 5000 * m) * (1.35 - 0.01 * m) for m in range(1, 13))
    assert Lang("de").number(it_year, 0) in e_de and Lang("en").number(it_year, 0) in e_en
    assert Lang("de").number(fac_year, 0) in e_de
    assert Lang("de").number(fac_year / it_year, 2) in e_de
    assert "1.000" in e_de and "3.000" in e_de  # floor area and design power


def test_scope_partner_of_funder_b_never_in_funder_a(rendered):
    for lang in ("de", "en"):
        html, pdf, csv_text = rendered["texts"][("bund-strukturwandel", "funder_impact", lang)]
        for text in (html, pdf, csv_text):
            assert "Dresdner Sachsenlabor" not in text and "C-004" not in text and "C-007" not in text
    html_b, pdf_b, _ = rendered["texts"][("freistaat-sachsen", "funder_impact", "de")]
    assert "Dresdner Sachsenlabor" in html_b and "Dresdner Sachsenlabor" in pdf_b


def test_no_confidential_name_or_pseudonym_in_any_output(rendered):
    assert len(rendered["texts"]) == 9
    for key, (html, pdf, csv_text) in rendered["texts"].items():
        for text in (html, pdf, csv_text):
            for name in CONFIDENTIAL:
                assert name not in text, key
            assert "u_0000" not in text, key
    html, pdf, _ = rendered["texts"][("bund-strukturwandel", "funder_impact", "de")]
    assert "3 Partner, davon 1 vertraulich (KMU)" in html
    html3, _, _ = rendered["texts"][("partner-p-003", "partner_statement", "de")]
    assert "P-003" in html3


def test_partner_name_with_script_is_escaped(rendered):
    html, pdf, _ = rendered["texts"][("bund-strukturwandel", "funder_impact", "de")]
    assert "Skript &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; AG" in html
    assert "<script>alert" not in html and "<script" not in html.lower()
    assert "Skript <script>alert('x')</script> AG" in pdf  # shown as text, not run


def test_small_groups_suppressed_in_output(rendered):
    html, pdf, _ = rendered["texts"][("eu-jtf", "funder_impact", "en")]
    assert "Fewer than three partners: figures suppressed" in html
    _, p_pdf, _ = rendered["texts"][("partner-p-002", "partner_statement", "de")]
    assert "< 3" in p_pdf  # two users in October


def test_dq_appendix_and_provenance_rendered(rendered):
    html, pdf, _ = rendered["texts"][("bund-strukturwandel", "funder_impact", "en")]
    assert "5 checks: 3 passed, 1 accepted deviations, 1 warnings, 0 critical failures." in html
    assert "pue_in_range" in pdf and "accepted deviation" in html
    assert "dq-20270102T031500Z-marts-new002" in html and "dq-20270101T031500Z-marts-old001" not in html
    o = rendered["by"][("bund-strukturwandel", "funder_impact", "en")]
    assert o.data_hash[:6] in html  # the run id
    assert "/landing/" not in html  # file names only in the manifest


def test_csv_holds_the_figures(rendered):
    _, _, csv_text = rendered["texts"][("bund-strukturwandel", "funder_impact", "de")]
    rows = {r["schluessel"]: r for r in csv.DictReader(io.StringIO(csv_text))}
    assert rows["scope.gpu_hours"]["wert"] == "440"
    assert rows["scope.cost_eur"]["wert"] == "374"
    assert rows["contract.C-002.gpu_hours_used"]["wert"] == "120"
    assert rows["contract.confidential_group.gpu_hours_used"]["wert"] == "160"
    _, _, en_csv = rendered["texts"][("eu-jtf", "funder_impact", "en")]
    rows = {r["key"]: r for r in csv.DictReader(io.StringIO(en_csv))}
    assert rows["contract.confidential_group.gpu_hours_used"]["value"] == ""
    assert rows["contract.confidential_group.gpu_hours_used"]["note"] == "< 3"


def test_html_is_self_contained(rendered):
    for (rid, kind, lang), (html, _, _) in rendered["texts"].items():
        assert "<link" not in html and "src=\"http" not in html and "url(http" not in html
        assert "<svg" in html and "<style>" in html


def test_templates_fail_loudly_on_a_missing_value(rendered):
    con = open_readonly(rendered["db"])
    try:
        rec = Recipient("x", "x", "funder", ("de",), Scope(funders=("eu-jtf",)), (ReportSpec("funder_impact", "quarter"),))
        data = build_funder_report(con, rec, Period.parse("2026-Q4"), rendered["settings"], run_id="r", code_version="c")
    finally:
        con.close()
    from datetime import datetime, timezone

    del data["regional"]["new_named"]
    with pytest.raises(UndefinedError):
        render_html(data, "de", VersionInfo(1, datetime.now(timezone.utc)))
