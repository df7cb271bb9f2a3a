"""Report data from the scenario run through the real pipeline: scope, confidentiality, figures.

The scenario (tests/fixtures/reports/scenario, built by tests/report_scenario.py: ingest,
dbt build, validation, published snapshot) is a centre of 4 GPU nodes x 8 GPUs (32 GPUs) and
one CPU node, commissioned on 2026-10-19, with data on the 12 local days 2026-10-26..11-06
(Europe/Berlin, UTC+1 after 10-25). Every GPU node draws 4,000 W, cpu01 500 W, sampled every
300 s (gpu002 misses two samples on 10-27 12:05 and 12:10, so 12:00-12:15 is bridged,
'interpolated'); the IT meter counts 20 kW, the grid meter 25 kW: PUE 1.25 every day.

Contracts (tests/fixtures/reports/scenario/contracts; list price 2.50 EUR per GPU-hour):

| contract | partner, type, NUTS-3 | funders | EUR/GPU-h | allotment | notes |
|---|---|---|---|---|---|
| C-001 | P-001 Universität Leipzig, university, DED51 | bund, sachsen | 0 | 12,000 | |
| C-002 | P-002 Muster Robotik GmbH, sme, DED51 | bund | 1.20 | 20,000; 30,000 from 11-01 | economic; group G-SKRIPT |
| C-003 | P-003 Geheimwerk KI GmbH, sme, DEE02 | bund | 1.50 | 6,000 | confidential; economic |
| C-004 | P-004 Dresdner Sachsenlabor, research_institute, DED21 | sachsen | 0 | 4,800 | |
| C-005 | P-005 Skript <script>…</script> AG, large_enterprise, DE300 | bund | 2.00 | 2,400 | economic; G-SKRIPT |
| C-006 | P-006 Bildungswerk Halle, education_provider, DEE02 | bund, eu-jtf | 0 | 1,200 | education |
| C-007 | P-007 Verdeckte Start-up UG, startup, DED51 | eu-jtf | 1.00 | 1,200 | confidential |

Jobs (one node each; GPU-h = hours x GPUs, 16 CPU cores per GPU; IT kWh = 4 kW x hours, the
four course jobs on gpu004 share its 8 kWh; 16 users, pseudonymised at ingest):

| job | user | contract | local day, start | h x GPUs = GPU-h | node | IT kWh | state |
|---|---|---|---|---|---|---|---|
| 1001 | anna | C-001 | 10-26 10:00 | 4 x 8 = 32 | gpu001 | 16 | |
| 1002 | arne | C-001 | 10-26 10:00 | 2 x 4 = 8 | gpu002 | 8 | FAILED |
| 1005 | berta | C-002 | 10-27 09:00 | 8 x 8 = 64 | gpu001 | 32 | |
| 1008 | carl | C-003 | 10-27 08:00 | 10 x 8 = 80 | gpu002 | 40 (1 interpolated) | |
| 1010 | dora | C-004 | 10-28 08:00 | 10 x 8 = 80 | gpu003 | 40 | |
| 1020 | zoe | none (zz-legacy) | 10-28 10:00 | 1 x 8 = 8 | gpu004 | 4 | unassigned |
| 1012-1015 | finn, fiona, fritz, frida | C-006 | 10-29 10:00 | 2 x 2 = 4 each | gpu004 | 2 each | |
| 1016 | falk | C-006 | 10-29 10:00 | 2 x 2 = 4 | gpu003 | 8 | |
| 1006 | bodo | C-002 | 10-30 10:00 | 2 x 8 = 16 | gpu001 | 8 | CANCELLED |
| 1018 | anna | C-001 | 10-31 08:00 | 10 x 8 = 80 | gpu002 | 40 | |
| 1019 | berta | C-002 | 11-01 10:00 | 5 x 8 = 40 | gpu001 | 20 | |
| 1003 | asta | C-001 | 11-02 08:00 | 10 x 8 = 80 | gpu001 | 40 | |
| 1011 | emil | C-005 | 11-02 10:00 | 5 x 8 = 40 | gpu002 | 20 | |
| 1007 | berta | C-002 | 11-03 08:00 | 10 x 4 = 40 | gpu003 | 40 | |
| 1017 | greta | C-007 | 11-04 08:00 | 10 x 2 = 20 | gpu004 | 40 | |
| 1004 | axel | C-001 | 11-05 10:00 | 5 x 8 = 40 | gpu001 | 20 | |
| 1009 | carl | C-003 | 11-06 10:00 | 5 x 4 = 20 | gpu002 | 20 | TIMEOUT |

Worked out by hand for 2026-Q4 (92 days, 2,209 hours):
- Centre: 668 GPU-h (October 388, November 280). In operation 10-19..11-06 = 19 days, 457 hours
  (10-25 has 25): capacity 32 x 457 = 14,624 GPU-h; utilisation 668 / 14,624 = 4.568 %
  (October 388 / (32 x 313) = 3.874 %, November 280 / (32 x 144) = 6.076 %).
- Federal funder (C-001, C-002, C-003, C-005, C-006): 240 + 160 + 100 + 40 + 20 = 560 GPU-h,
  3.829 % of capacity; 17 jobs; 13 users; 5 active (and new) partners. Revier (DED51, DEE02):
  520 of 560 = 92.857 %; companies (P-002, P-003, P-005): 300 of 560 = 53.571 %. Cost
  160 x 1.20 + 100 x 1.50 + 40 x 2.00 = 422.00 EUR; list value 560 x 2.50 = 1,400.00 EUR;
  subsidy 978.00 EUR. IT energy (4 kW per node-hour; the four course jobs share gpu004's
  8 kWh): 124 + 100 + 60 + 20 + 16 = 320 kWh, 1 kWh of it interpolated (job 1008); x 1.25 = 400 kWh.
- Its contract table: P-003 is confidential; the two smallest named contracts by use join it
  (C-006 20, C-005 40): a group of 3 partners with 160 GPU-h of 9,600 allotted, the same group
  in every table of the report (tests/test_disclosure.py). What would single out part of it is
  withheld: the Revier share (P-005 alone is outside), the company share, the cooperation and
  education rows, the centre's economic use (C-002, C-003, C-005), the energy quality split (the
  interpolated kWh are P-003's) and the de-minimis row of P-003 with G-SKRIPT (two undertakings).
- Saxony (C-001, C-004): 320 GPU-h. EU JTF (C-006, C-007): 40; its group (P-007 + P-006) has
  2 partners and is suppressed.
- Economic use in 2026 (C-002, C-003, C-005): 300 GPU-h = 2.051 % of the year's capacity
  (14,624) = 10.257 % of the 20 % allowance (2,924.8).
- De-minimis (list price 2.50): G-SKRIPT = 20,000 x 1.30 (C-002 signed 2025-12-10) + 13,000
  (amendment of 2026-11-01 to 30,000) + 2,400 x 0.50 (C-005) + 200,000 declared = 240,200 EUR,
  80.07 % of 300,000: warning. P-003: 6,000 x 1.00 = 6,000 EUR, 2.0 %.
- P-002 in October: allotment 20,000 (version 0), used 80 (64 + 16), to date 80, remaining
  19,920, cost 96.00, IT 40 kWh; in November: allotment 30,000 (amendment), used 80, to date
  160 (as of 11-06), remaining 29,840.
- Energy 2026: IT meter 20 kW x 24 h x 12 days = 5,760 kWh, grid 7,200 kWh.
"""

import json
from datetime import date

import pytest

import report_scenario
from kirz.reporting.data import (
    ReportDataError, catalogue, dq_section, open_readonly, partners_of, scope_rows,
)
from kirz.reporting.disclosure import WITHHELD
from kirz.reporting.energy_annual import build_energy_report
from kirz.reporting.funder_impact import build_funder_report
from kirz.reporting.model import L, Period, Q, canonical, count_q, data_hash
from kirz.reporting.partner_statement import build_partner_statement
from kirz.reporting.recipients import (
    RecipientError, Recipient, ReportSpec, Scope, expand_auto_partners, load_definitions,
)
from kirz.reporting.render import REPO_REPORTS, Lang
from kirz.warehouse import connect

CONFIDENTIAL = ("Geheimwerk", "Verdeckte Start-up")


@pytest.fixture(scope="session")
def scenario(tmp_path_factory):
    return report_scenario.shared(tmp_path_factory)


@pytest.fixture(scope="module")
def con(scenario):
    c = open_readonly(scenario.snapshot)
    yield c
    c.close()


@pytest.fixture(scope="module")
def settings(scenario):
    return scenario.settings


@pytest.fixture(scope="module")
def pseudonyms(con):
    return [r[0] for r in con.execute("select distinct user_pseudonym from marts.fct_job_usage").fetchall()]


def funder(rid, funders, **kw):
    return Recipient(rid, rid, "funder", ("de",), Scope(funders=tuple(funders), **kw),
                     (ReportSpec("funder_impact", "quarter"),))


def partner(pid, contracts):
    return Recipient(f"partner-{pid.lower()}", pid, "partner", ("de",), Scope(contracts=tuple(contracts)),
                     (ReportSpec("partner_statement", "month"),), partner_id=pid)


REGULATOR = Recipient("energy-regulator", "Reg", "regulator", ("de",), Scope(everything=True),
                      (ReportSpec("energy_annual", "year"),))


def build(fn, con, rec, period, settings):
    return fn(con, rec, Period.parse(period), settings, run_id="rep-test", code_version="test")


def head(data):
    return {h["key"]: h for h in data["headline"]}


def as_text(data) -> str:
    return json.dumps(canonical(data), ensure_ascii=False)


# ---------------------------------------------------------------- periods and formatting

def test_period_parsing_and_previous():
    q4 = Period.parse("2026-Q4")
    assert (q4.start, q4.end, q4.previous().label) == (date(2026, 10, 1), date(2026, 12, 31), "2026-Q3")
    assert Period.parse("2026-01").previous().label == "2025-12"
    assert Period.parse("2026").previous().label == "2025"
    assert [m.label for m in q4.months()] == ["2026-10", "2026-11", "2026-12"]
    with pytest.raises(ValueError, match="not a month"):
        Period.parse("2026-13")


def test_period_hours_follow_local_days_across_dst(settings):
    # 92 days, and the clocks went back on 25 October 2026: one hour more
    assert Period.parse("2026-Q4").hours(settings.tz) == 92 * 24 + 1
    assert Period.parse("2026-03").hours(settings.tz) == 31 * 24 - 1


def test_number_formats_de_and_en():
    de, en = Lang("de"), Lang("en")
    assert de.number(1234.5, 1) == "1.234,5" and en.number(1234.5, 1) == "1,234.5"
    assert de.number(-0.04, 1) == "0,0" and de.number(-1234567, 0) == "-1.234.567"
    assert de.q(Q(12.345, "pct", 1)) == "12,3 %" and en.q(Q(12.345, "pct", 1)) == "12.3%"
    assert de.q(Q(266.666, "pct_change", 1)) == "+266,7 %"
    assert de.q(Q(-2.26, "pp", 1)) == "-2,3 PP" and en.q(Q(1.0, "pp", 1)) == "+1.0 pp"
    assert de.q(count_q(2, 3)) == "< 3" and de.q(count_q(3, 3)) == "3" and de.q(count_q(0, 3)) == "0"
    assert de.q(Q(None, "kwh")) == "–"
    assert de.period(Period.parse("2026-Q4")) == "4. Quartal 2026" and en.period(Period.parse("2026-Q4")) == "Q4 2026"
    assert de.period(Period.parse("2026-03")) == "März 2026"


def test_i18n_files_have_the_same_keys():
    def keys(d, prefix=""):
        out = set()
        for k, v in d.items():
            out.add(prefix + str(k))
            if isinstance(v, dict):
                out |= keys(v, f"{prefix}{k}.")
        return out

    de, en = Lang("de").s, Lang("en").s
    assert keys(de) == keys(en)
    assert len(de["methodology"]) == len(en["methodology"])


# ---------------------------------------------------------------- recipient definitions

def test_demo_definitions_load():
    defs = load_definitions(REPO_REPORTS / "recipients")
    ids = {r.id for r in defs.recipients}
    assert {"bund-strukturwandel", "freistaat-sachsen", "eu-jtf", "energy-regulator"} <= ids
    assert len(defs.auto_partner_templates) == 1
    eu = next(r for r in defs.recipients if r.id == "eu-jtf")
    assert eu.languages == ("en", "de") and eu.scope.funders == ("eu-jtf",)


@pytest.mark.parametrize("doc, message", [
    ("id: x\nscope: {funders: []}\nreports: [funder_impact]\n", "empty scope"),
    ("id: x\nscope: all\nreports: [{kind: brochure}]\n", "unknown report kind"),
    ("id: x\nscope: all\nreports: [{kind: partner_statement, every: quarter}]\n", "cannot be issued every"),
    ("id: x\nscope: {regions: [DED51]}\nreports: [funder_impact]\n", "unknown scope key"),
    ("id: x\nlanguage: fr\nscope: all\nreports: [funder_impact]\n", "unsupported language"),
    ("scope: all\nreports: [funder_impact]\n", "missing or unusable id"),
])
def test_bad_definitions_are_named(tmp_path, doc, message):
    (tmp_path / "bad.yaml").write_text(doc)
    with pytest.raises(RecipientError, match=message) as err:
        load_definitions(tmp_path)
    assert "bad.yaml" in str(err.value)


def test_auto_partner_recipients(con):
    defs = load_definitions(report_scenario.RECIPIENTS)
    cat = catalogue(con)
    recips = {r.id: r for r in expand_auto_partners(defs, list(partners_of(cat).values()), cat)}
    assert {f"partner-p-00{i}" for i in range(1, 8)} <= set(recips)
    p2 = recips["partner-p-002"]
    assert p2.scope.contracts == ("C-002",) and p2.emails == ("billing@muster-robotik.test",)
    assert p2.partner_id == "P-002" and recips["partner-p-003"].emails == ()


def test_scope_combines_conditions():
    s = Scope(funders=("bund-strukturwandel",), usage_areas=("cooperation",))
    assert s.covers("C-002", ["bund-strukturwandel"], "cooperation")
    assert not s.covers("C-001", ["bund-strukturwandel"], "methods_research")
    assert not s.covers("C-007", ["eu-jtf"], "cooperation")
    assert Scope(contracts=("C-004",)).covers("C-004", [], "methods_research")


def test_catalogue_reads_the_contract_files(con):
    cat = {c["contract_id"]: c for c in catalogue(con)}
    assert sorted(cat) == [f"C-00{i}" for i in range(1, 8)]
    assert cat["C-001"]["funders"] == ["bund-strukturwandel", "freistaat-sachsen"]
    assert cat["C-002"]["gpu_hours_allocated"] == 30000  # the amendment of 2026-11-01 is current
    assert {c for c, r in cat.items() if r["confidential"]} == {"C-003", "C-007"}
    assert {c for c, r in cat.items() if r["is_revier"]} == {"C-001", "C-002", "C-003", "C-006", "C-007"}


# ---------------------------------------------------------------- funder report

def test_funder_headline_equals_hand_sums(con, settings):
    data = build(build_funder_report, con, funder("bund", ["bund-strukturwandel"]), "2026-Q4", settings)
    h = head(data)
    assert data["previous_period"] is None  # no data before 2026-10-26: nothing to compare with
    assert h["gpu_hours"]["value"].value == 560.0 and h["gpu_hours"]["previous"] is None
    assert h["cpu_core_hours"]["value"].value == 560.0 * 16
    assert h["jobs"]["value"].value == 17
    assert h["active_users"]["value"].value == 13 and not h["active_users"]["value"].suppressed
    assert h["active_partners"]["value"].value == 5
    # the model holds the hand sums; the report withholds what would single out part of the group
    row = scope_rows(con, "funder:bund-strukturwandel", Period.parse("2026-Q4"))["all"]
    assert row["new_partners"] == 5 and h["new_partners"]["value"] == WITHHELD  # 5 - 4 named = 1 confidential
    assert row["revier_gpu_hour_share_pct"] == pytest.approx(520 / 560 * 100)
    assert row["company_gpu_hour_share_pct"] == pytest.approx(300 / 560 * 100)
    assert h["revier_gpu_hour_share_pct"]["value"] == h["company_gpu_hour_share_pct"]["value"] == WITHHELD
    assert h["trainees"]["value"].value == 5
    assert h["cost_eur"]["value"].value == pytest.approx(422.0)
    assert h["compute_value_eur"]["value"].value == pytest.approx(1400.0)
    assert h["subsidy_eur"]["value"].value == pytest.approx(978.0)
    assert h["it_energy_kwh"]["value"].value == pytest.approx(320.0)
    areas = {r["area"].key: r for r in data["usage_by_area"]["rows"]}
    assert {a: r["gpu_hours"] for a, r in areas.items()} == {
        "methods_research": Q(240.0, "gpu_h", 1), "cooperation": WITHHELD, "education": WITHHELD}
    assert areas["education"]["jobs"] == WITHHELD and areas["cooperation"]["contracts"].value == 3
    assert areas["methods_research"]["jobs"].value == 5
    assert data["energy"]["scope_facility_kwh"].value == pytest.approx(400.0)
    assert (row["measured_kwh"], row["interpolated_kwh"]) == pytest.approx((319.0, 1.0))
    assert {r["quality"].key: r["kwh"] for r in data["energy"]["quality"]["rows"]} == {
        "measured": WITHHELD, "interpolated": WITHHELD}  # the interpolated kWh are P-003's alone


def test_funder_coverage_and_capacity_over_the_days_in_operation(con, settings):
    data = build(build_funder_report, con, funder("bund", ["bund-strukturwandel"]), "2026-Q4", settings)
    cov = data["coverage"]
    assert (cov["first_data_day"], cov["last_data_day"]) == (date(2026, 10, 26), date(2026, 11, 6))
    assert (cov["days_with_data"].value, cov["days_in_period"].value, cov["days_in_operation"].value) == (12, 92, 19)
    assert cov["is_partial"] and cov["operation_started_in_period"]
    assert cov["operation_start_day"] == date(2026, 10, 19)
    cap = data["capacity"]
    assert (cap["installed_gpus"].value, cap["gpu_nodes"].value, cap["cpu_nodes"].value) == (32, 4, 1)
    assert cap["days_in_operation"].value == 19
    assert cap["capacity_gpu_hours"].value == 32 * (19 * 24 + 1) == 14624
    assert cap["gpu_utilization_centre"].value == pytest.approx(100 * 668 / 14624)
    assert cap["scope_share_of_capacity"].value == pytest.approx(100 * 560 / 14624)
    assert cap["avg_it_load_kw"].value == pytest.approx(20.0)
    assert cap["avg_load_share_of_design"].value == pytest.approx(100 * 20 / 3000)
    assert data["energy"]["utilization_by_month"] == pytest.approx([100 * 388 / (32 * 313), 100 * 280 / (32 * 144)])
    assert data["education"]["courses_centre"].value == 1


def test_funder_centre_energy_comes_from_the_kpi_mart(con, settings):
    data = build(build_funder_report, con, funder("bund", ["bund-strukturwandel"]), "2026-Q4", settings)
    kpi = dict(con.execute("select kpi, value from marts.fct_impact_kpis where period = '2026-Q4' "
                           "and usage_area = 'all'").fetchall())
    centre = {r["label"].key: r["value"].value for r in data["energy"]["centre"]}
    for key in ("it_energy_kwh", "facility_energy_kwh", "pue", "co2e_market_kg"):
        assert centre[key] == pytest.approx(kpi[key])
    # no heat-reuse meter and no certificate ledger in the scenario: ERF and REF are missing, not 0
    assert centre["erf"] is None and centre["renewable_share_pct"] is None
    assert "erf" not in kpi and "renewable_share_pct" not in kpi
    assert (centre["it_energy_kwh"], centre["facility_energy_kwh"], centre["pue"]) == pytest.approx((5760, 7200, 1.25))


def test_economic_use_and_deminimis(con, settings):
    # the EU scope (C-006, C-007) has no economic contract: it shows the centre's economic use
    eu = build(build_funder_report, con, funder("eu", ["eu-jtf"]), "2026-Q4", settings)
    sa = eu["state_aid"]
    assert sa["economic_use_gpu_hours"].value == pytest.approx(300.0)
    assert sa["share_of_capacity"].value == pytest.approx(100 * 300 / 14624)
    assert sa["share_of_allowance"].value == pytest.approx(100 * 300 / (0.2 * 14624))
    assert sa["allowance"].value == pytest.approx(20.0) and sa["status_key"] == "ok"
    # in the federal scope, 300 minus C-002's 160 would be P-003 + P-005 of the group
    bund = build(build_funder_report, con, funder("bund", ["bund-strukturwandel"]), "2026-Q4", settings)
    assert bund["state_aid"]["economic_use_gpu_hours"] == WITHHELD and bund["state_aid"]["economic_withheld"]
    # de-minimis: G-SKRIPT (P-002 with P-005, a member of the group) and P-003 go into the group's
    # row; two undertakings are fewer than three: no figure
    dm = bund["state_aid"]["deminimis"]
    assert dm["rows"] == []
    g = dm["group"]
    assert (g["undertakings"].value, g["confidential"].value, g["suppressed"], g["aid"], g["status"]) == (
        2, 1, True, WITHHELD, WITHHELD)
    assert [t.key for t in g["types"]] == ["sme"]
    g = eu["state_aid"]["deminimis"]["group"]
    assert (g["undertakings"].value, g["suppressed"], g["aid"]) == (1, True, WITHHELD)  # P-007: 1,800 EUR


def test_scope_keeps_other_funders_contracts_out(con, settings):
    bund = build(build_funder_report, con, funder("bund", ["bund-strukturwandel"]), "2026-Q4", settings)
    # the provenance lists every input file (C-004.yaml too) for the version's manifest only
    text = as_text({k: v for k, v in bund.items() if k != "provenance"})
    assert "Dresdner Sachsenlabor" not in text and "C-004" not in text and "C-007" not in text
    sachsen = build(build_funder_report, con, funder("sachsen", ["freistaat-sachsen"]), "2026-Q4", settings)
    assert head(sachsen)["gpu_hours"]["value"].value == 240 + 80
    s_text = as_text({k: v for k, v in sachsen.items() if k != "provenance"})
    assert "Dresdner Sachsenlabor" in s_text and "Muster Robotik" not in s_text and "C-002" not in s_text
    eu = build(build_funder_report, con, funder("eu", ["eu-jtf"]), "2026-Q4", settings)
    assert scope_rows(con, "funder:eu-jtf", Period.parse("2026-Q4"))["all"]["gpu_hours"] == 20 + 20
    assert head(eu)["gpu_hours"]["value"] == WITHHELD  # two partners, one of them confidential


def test_confidential_partners_and_pseudonyms_never_in_data(con, settings, pseudonyms):
    assert len(pseudonyms) == 16 and all(p.startswith("u_") for p in pseudonyms)
    outputs = [build(build_funder_report, con, rec, "2026-Q4", settings)
               for rec in (funder("bund", ["bund-strukturwandel"]), funder("eu", ["eu-jtf"]))]
    outputs.append(build(build_energy_report, con, REGULATOR, "2026", settings))
    outputs.append(build(build_partner_statement, con, partner("P-002", ["C-002"]), "2026-10", settings))
    for data in outputs:
        text = as_text(data)
        for name in CONFIDENTIAL:
            assert name not in text, data["kind"]
        assert not any(p in text for p in pseudonyms)
    # a confidential partner is named in its own statement, the other one nowhere
    own = as_text(build(build_partner_statement, con, partner("P-003", ["C-003"]), "2026-10", settings))
    assert "Geheimwerk KI GmbH" in own and "Verdeckte" not in own
    assert not any(p in own for p in pseudonyms)


def test_confidential_contracts_are_merged_into_a_group_of_three(con, settings):
    data = build(build_funder_report, con, funder("bund", ["bund-strukturwandel"]), "2026-Q4", settings)
    c = data["contracts"]
    assert [r["contract_id"] for r in c["rows"]] == ["C-001", "C-002"]
    g = c["group"]
    assert (g["partners"].value, g["confidential_partners"].value, g["merged_named"].value) == (3, 1, 2)
    assert [t.key for t in g["types"]] == ["sme"]
    assert g["used"].value == 100 + 40 + 20
    assert g["allotment"].value == 6000 + 2400 + 1200
    assert c["total"]["used"].value == 560 and c["total"]["allotment"].value == 12000 + 30000 + 9600
    c2 = next(r for r in c["rows"] if r["contract_id"] == "C-002")
    assert (c2["allotment"].value, c2["used"].value, c2["used_to_date"].value, c2["remaining"].value) == (
        30000, 160, 160, 29840)


def test_too_small_group_is_suppressed(con, settings):
    data = build(build_funder_report, con, funder("eu", ["eu-jtf"]), "2026-Q4", settings)
    g = data["contracts"]["group"]
    assert (g["partners"].value, g["confidential_partners"].value) == (2, 1) and g["suppressed"]
    assert g["used"] == g["allotment"] == g["remaining"] == WITHHELD
    assert data["contracts"]["rows"] == [] and data["contracts"]["total"]["used"] == WITHHELD
    coop = data["cooperation"]["group"]
    assert coop["suppressed"] and coop["gpu_hours"] == WITHHELD and coop["jobs_created"] == WITHHELD
    assert data["disclosure"]["too_small"]


def test_partner_counts_below_three_are_suppressed(con, settings):
    data = build(build_funder_report, con, funder("bund", ["bund-strukturwandel"]), "2026-Q4", settings)
    reg = data["regional"]
    # education_provider 1, large_enterprise 1, sme 2, university 1: all "< 3", no value kept
    assert {r["type"].key: (r["partners"].value, r["partners"].suppressed) for r in reg["by_type"]} == {
        "education_provider": (None, True), "large_enterprise": (None, True), "sme": (None, True),
        "university": (None, True)}
    assert reg["partners_total"].value == 5
    # 1 outside the Revier is "< 3"; the 4 inside would give it back (5 - 4): withheld as well
    assert reg["partners_outside"].suppressed and reg["partners_revier"] == WITHHELD
    assert reg["new_named"] == ["Bildungswerk Halle", "Muster Robotik GmbH",
                                "Skript <script>alert('x')</script> AG", "Universität Leipzig"]
    assert reg["new_confidential"].suppressed


def test_dq_appendix_shows_the_accepted_warning_scrubbed(con, settings):
    data = build(build_funder_report, con, funder("bund", ["bund-strukturwandel"]), "2026-Q4", settings)
    dq = data["dq"]
    outcome = {(r["suite"], r["expectation"]): r for r in dq["results"]}
    accepted = outcome[report_scenario.ACCEPTED]
    assert accepted["outcome_key"] == "accepted" and accepted["severity"].key == "warning"
    assert accepted["unexpected"].value == 1  # job 1020 on 10-28
    assert accepted["acceptance_reason"] == (
        "zz-legacy is the test account of [confidential]'s pilot; its contract is being signed")
    assert {r["outcome_key"] for k, r in outcome.items() if k != report_scenario.ACCEPTED} == {"passed"}
    counts = {k: v.value for k, v in dq["counts"].items()}
    assert (counts["accepted"], counts["warning_failed"], counts["critical_failed"]) == (1, 0, 0)
    assert counts["passed"] == counts["expectations"] - 1 == len(dq["results"]) - 1
    runs = {r[0] for r in con.execute("select run_id from audit.dq_runs").fetchall()}
    assert len(runs) == 2 and set(data["provenance"]["dq_run_ids"]) == runs  # raw and marts
    # the partner itself reads its own name; a month without the failure shows it passed
    own = build(build_partner_statement, con, partner("P-003", ["C-003"]), "2026-10", settings)
    reason = {r["expectation"]: r["acceptance_reason"] for r in own["dq"]["results"]}["jobs_account_covered"]
    assert "Geheimwerk KI GmbH" in reason
    nov = build(build_partner_statement, con, partner("P-002", ["C-002"]), "2026-11", settings)
    assert {r["expectation"]: r["outcome_key"] for r in nov["dq"]["results"]}["jobs_account_covered"] == "passed"


def test_provenance_summarises_loaded_inputs(con, settings):
    data = build(build_funder_report, con, funder("bund", ["bund-strukturwandel"]), "2026-Q4", settings)
    prov = data["provenance"]
    inputs = {i["source"]: (i["files"].value, i["rows"].value) for i in prov["inputs"]}
    # sacct: 20 allocations + 6 steps; power: 3,452 instants x 5 nodes - 2 missing samples;
    # meters: 1,153 readings x 2; contracts: 7 files, C-002 with an amendment; inventory:
    # facility + 5 nodes + 2 meters
    assert inputs == {"slurm": (1, 26), "power": (1, 17258), "meters": (1, 2306), "contracts": (7, 8),
                      "inventory": (1, 8)}
    assert all(len(i["sha256"]) == 64 for i in prov["inputs"])
    assert {f["file"] for f in prov["input_files"]} >= {"sacct-2026-11-06.txt", "inventory.yaml", "C-005.yaml"}
    assert prov["latest_energy_day"] == date(2026, 11, 6)
    assert prov["latest_job_end"].isoformat() == "2026-11-06T14:00:00+00:00"  # job 1009, 15:00 local


def test_data_hash_ignores_provenance(con, settings):
    rec = funder("bund", ["bund-strukturwandel"])
    a = build(build_funder_report, con, rec, "2026-Q4", settings)
    b = build_funder_report(con, rec, Period.parse("2026-Q4"), settings, run_id="other", code_version="other")
    assert data_hash(a) == data_hash(b)
    c = build(build_funder_report, con, funder("eu", ["eu-jtf"]), "2026-Q4", settings)
    assert data_hash(a) != data_hash(c)


# ---------------------------------------------------------------- partner statement and energy report

def test_partner_statement_figures(con, settings):
    data = build(build_partner_statement, con, partner("P-002", ["C-002"]), "2026-10", settings)
    t = data["totals"]
    assert t["gpu_hours"].value == 80 and t["cost_eur"].value == pytest.approx(96.0) and t["jobs"].value == 2
    assert t["users"].value == 2 and t["users"].suppressed
    assert t["compute_value_eur"].value == pytest.approx(200.0) and t["subsidy_eur"].value == pytest.approx(104.0)
    assert t["it_energy_kwh"].value == pytest.approx(40.0) and t["facility_energy_kwh"].value == pytest.approx(50.0)
    assert {r["state"].key: (r["jobs"].value, r["gpu_hours"].value) for r in data["jobs_by_state"]} == {
        "COMPLETED": (1, 64.0), "CANCELLED": (1, 16.0)}
    assert {r["day"]: r["gpu_hours"].value for r in data["daily"]} == {
        date(2026, 10, 27): 64.0, date(2026, 10, 30): 16.0}
    assert data["recipient"]["name"] == "Muster Robotik GmbH"
    assert data["coverage"]["days_with_data"].value == 6 and data["coverage"]["days_in_period"].value == 31


def test_partner_statement_contract_position(con, settings):
    """Allotment of the version in force at the month's end, use in the month, to date, remaining."""
    rec = partner("P-002", ["C-002"])
    (oct_,) = build(build_partner_statement, con, rec, "2026-10", settings)["contracts"]
    (nov,) = build(build_partner_statement, con, rec, "2026-11", settings)["contracts"]
    for row, expected in ((oct_, (20000, 80, 80, 19920, 96.0)), (nov, (30000, 80, 160, 29840, 96.0))):
        got = (row["allotment"].value, row["used"].value, row["used_to_date"].value, row["remaining"].value,
               row["cost"].value)
        assert got == pytest.approx(expected)
    assert nov["used_ytd"].value == 160 and nov["used_share"].value == pytest.approx(100 * 160 / 30000)
    assert (nov["term_start"], nov["term_end"]) == (date(2026, 1, 1), date(2026, 12, 31))
    assert nov["price"].value == pytest.approx(1.20)


def test_energy_report_equals_kpi_mart_and_hand_figures(con, settings):
    data = build(build_energy_report, con, REGULATOR, "2026", settings)
    kpi = dict(con.execute("select kpi, value from marts.fct_impact_kpis where period = '2026' "
                           "and usage_area = 'all'").fetchall())
    h = head(data)
    for key in ("facility_energy_kwh", "it_energy_kwh", "pue", "gpu_utilization_pct", "peak_it_load_kw"):
        assert h[key]["value"].value == pytest.approx(kpi[key])
    assert h["erf"]["value"].value is None and "erf" not in kpi
    assert (h["it_energy_kwh"]["value"].value, h["facility_energy_kwh"]["value"].value) == (5760, 7200)
    assert h["gpu_utilization_pct"]["value"].value == pytest.approx(100 * 668 / 14624)
    assert data["previous_period"] is None
    f = data["facility"]
    assert (f["floor_area_m2"].value, f["design_it_power_kw"].value) == (1000, 3000)
    assert (f["installed_gpus"].value, f["gpu_nodes"].value, f["cpu_nodes"].value, f["days_in_operation"].value) == (
        32, 4, 1, 19)
    assert [(r["month"].label, r["days"].value) for r in data["monthly"]] == [("2026-10", 6), ("2026-11", 6)]
    assert [r["utilisation"].value for r in data["monthly"]] == pytest.approx(
        [100 * 388 / (32 * 313), 100 * 280 / (32 * 144)])
    assert [r["pue"].value for r in data["monthly"]] == pytest.approx([1.25, 1.25])
    total = data["meters"]["total"]
    assert (total["grid_kwh"].value, total["it_kwh"].value, total["days"].value) == (7200, 5760, 12)


def test_a_warehouse_without_report_models_is_named(tmp_path, settings):
    path = tmp_path / "empty.duckdb"
    connect(path).close()
    con = open_readonly(path)
    try:
        with pytest.raises(ReportDataError, match="ref.settings"):
            build(build_funder_report, con, funder("bund", ["bund-strukturwandel"]), "2026-Q4", settings)
    finally:
        con.close()


def test_missing_confidential_flag_means_confidential(scenario, tmp_path):
    """A partner whose flag is missing in either dimension is treated as confidential."""
    path = tmp_path / "dims.duckdb"
    c = connect(path)
    c.execute(f"attach '{scenario.snapshot}' as snap (read_only)")
    c.execute("create schema marts")
    c.execute("create table marts.dim_contract as select * from snap.marts.dim_contract")
    c.execute("create table marts.dim_partner as select * from snap.marts.dim_partner")
    c.execute("update marts.dim_partner set is_confidential = null where partner_id = 'P-001'")
    c.execute("update marts.dim_contract set is_partner_confidential = null where contract_id = 'C-004'")
    c.close()
    con = open_readonly(path)
    try:
        conf = {r["contract_id"] for r in catalogue(con) if r["confidential"]}
    finally:
        con.close()
    assert conf == {"C-001", "C-003", "C-004", "C-007"}


def test_broken_definition_is_skipped_when_not_strict(tmp_path):
    (tmp_path / "good.yaml").write_text("id: good\nscope: all\nreports: [energy_annual]\n")
    (tmp_path / "bad.yaml").write_text("id: bad\nscope: all\nreports: [{kind: brochure}]\n")
    defs = load_definitions(tmp_path, strict=False)
    assert [r.id for r in defs.recipients] == ["good"]
    assert len(defs.errors) == 1 and "bad.yaml" in defs.errors[0]


def test_suppressed_figures_keep_no_value_in_stored_form():
    from kirz.reporting.model import Figure

    f = Figure("scope.active_users", L("kpi", "active_users"), count_q(2, 3))
    assert f.to_json()["value"] is None and f.to_json()["suppressed"] is True
    assert Figure.from_json(f.key, f.to_json()).value.canonical() == count_q(1, 3).canonical()


def test_dq_appendix_has_one_line_per_expectation_over_the_periods_days(tmp_path):
    """A marts run stores one result per local day; the appendix combines the period's days,
    and a later run over some of those days replaces their results only."""
    import duckdb

    from kirz.validation import init_dq_schema

    con = duckdb.connect(str(tmp_path / "dq.duckdb"))
    init_dq_schema(con)
    con.execute(
        "insert into audit.dq_runs (run_id, started_at, layer, period_start, period_end, status) values "
        "('r1', timestamptz '2026-11-02 03:00:00+00', 'marts', date '2026-09-30', date '2026-10-02', 'failed'), "
        "('r2', timestamptz '2026-11-03 03:00:00+00', 'marts', date '2026-10-01', date '2026-10-01', 'passed')"
    )
    for run, day, ok, n in [("r1", "2026-09-30", False, 9), ("r1", "2026-10-01", True, 0),
                            ("r1", "2026-10-02", False, 4), ("r2", "2026-10-01", True, 0)]:
        con.execute(
            "insert into audit.dq_results (run_id, suite, expectation, severity, meaning, success, observed_value, "
            "unexpected_count, period_start, period_end, accepted) values "
            "(?, 'marts.fct_energy_daily', 'pue_in_range', 'critical', 'PUE is plausible', ?, ?, ?, ?, ?, false)",
            [run, ok, f"{n} days", n, day, day],
        )
    dq = dq_section(con, Period.parse("2026-Q4"), [])
    (line,) = dq["results"]
    assert (line["expectation"], line["outcome_key"], line["unexpected"].value) == ("pue_in_range", "failed", 4)
    assert {k: v.value for k, v in dq["counts"].items()}["critical_failed"] == 1
    assert dq["run_ids"] == ["r1", "r2"]


def test_energy_report_states_each_statutory_figure_with_its_limit(con, settings):
    """The scenario's year: E_DC = grid 25 kW and E_IT 20 kW over 288 h of meter data = 7,200 and
    5,760 kWh, PUE 7,200 / 5,760 = 1.25; the centre was commissioned on 2026-10-19 (after 1 July
    2026), so EnEfG § 11 sets PUE <= 1.2 from two years after commissioning (2028-10-19, not yet
    binding): not met. No heat-reuse meter and no certificate ledger: ERF and REF have no data."""
    data = build(build_energy_report, con, REGULATOR, "2026", settings)
    st = data["statutory"]
    assert st["available"]
    figures = {f["key"]: f for f in st["figures"]}
    assert (figures["dc_kwh"]["value"].value, figures["it_kwh"]["value"].value) == pytest.approx((7200, 5760))
    pue = figures["pue"]
    assert pue["value"].value == pytest.approx(1.25) and pue["limit"].value == 1.2
    assert (pue["status_key"], pue["binding"], str(pue["in_force_from"])) == ("not_met", False, "2028-10-19")
    assert pue["comparison"].key == "max" and "EnEfG § 11" in pue["legal_reference"]
    assert figures["erf"]["value"].value is None and figures["erf"]["status_key"] == "no_data"
    assert figures["ref"]["status_key"] == "no_data" and figures["ref"]["limit"].value == 0.5
    master = {m["label"].key: m["value"] for m in st["master"]}
    assert str(master["commissioned_on"]) == "2026-10-19"
