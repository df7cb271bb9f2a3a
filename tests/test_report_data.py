"""Report data from a hand-made warehouse: scope, confidentiality, small groups, figures.

The fixture (tests/fixtures/reports/warehouse.sql) holds 20 jobs. Worked out by hand for the
federal funder (contracts C-001, C-002, C-003, C-005, C-006) in 2026-Q4:
GPU-hours 32+8+80+40 (C-001) + 64+16+40 (C-002) + 80+20 (C-003) + 40 (C-005) + 5x4 (C-006)
= 160+120+100+40+20 = 440; 2026-Q3: 80 (C-001) + 40 (C-002) = 120, so +266.7 %.
Revier partners (P-001, P-002, P-003, P-006) got 400 of 440 = 90.9 %; companies (P-002 sme,
P-003 sme, P-005 large) 260 of 440 = 59.1 %. Cost 120x1.20 + 100x1.50 + 40x2.00 = 374.00 EUR.
"""

import json
from datetime import date
from pathlib import Path

import pytest

from kirz.config import load_settings
from kirz.reporting.data import (
    build_energy_report, build_funder_report, build_partner_statement, catalogue, group_partner_rows,
    open_readonly, partners_of,
)
from kirz.reporting.model import Period, Q, canonical, count_q, data_hash
from kirz.reporting.recipients import (
    RecipientError, Recipient, ReportSpec, Scope, expand_auto_partners, load_definitions,
)
from kirz.reporting.render import REPO_REPORTS, Lang
from kirz.warehouse import connect, init_schema

FIXTURES = Path(__file__).parent / "fixtures" / "reports"
CONFIDENTIAL = ("Geheimwerk", "Verdeckte Start-up")


def build_fixture_warehouse(path: Path) -> Path:
    con = connect(path)
    init_schema(con)
    con.execute((FIXTURES / "warehouse.sql").read_text(encoding="utf-8"))
    con.close()
    return path


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return build_fixture_warehouse(tmp_path_factory.mktemp("wh") / "kirz.duckdb")


@pytest.fixture(scope="module")
def con(db):
    c = open_readonly(db)
    yield c
    c.close()


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return load_settings(env={}, home=tmp_path_factory.mktemp("home"), pseudonym_key="k")


def funder(rid, funders, **kw):
    return Recipient(rid, rid, "funder", ("de",), Scope(funders=tuple(funders), **kw),
                     (ReportSpec("funder_impact", "quarter"),))


def build(fn, con, rec, period, settings):
    return fn(con, rec, Period.parse(period), settings, run_id="rep-test", code_version="test")


def head(data):
    return {h["key"]: h for h in data["headline"]}


# ---------------------------------------------------------------- periods and formatting

def test_period_parsing_and_previous():
    q4 = Period.parse("2026-Q4")
    assert (q4.start, q4.end, q4.previous().label) == (date(2026, 10, 1), date(2026, 12, 31), "2026-Q3")
    assert Period.parse("2026-01").previous().label == "2025-12"
    assert Period.parse("2026").previous().label == "2025"
    assert [m.label for m in q4.months()] == ["2026-10", "2026-11", "2026-12"]
    with pytest.raises(ValueError, match="not a month"):
        Period.parse("2026-13")


def test_period_hours_follow_local_days_across_dst():
    tz = load_settings(env={}).tz
    # 92 days, and the clocks went back on 25 October 2026: one hour more
    assert Period.parse("2026-Q4").hours(tz) == 92 * 24 + 1
    assert Period.parse("2026-03").hours(tz) == 31 * 24 - 1


def test_number_formats_de_and_en():
    de, en = Lang("de"), Lang("en")
    assert de.number(1234.5, 1) == "1.234,5" and en.number(1234.5, 1) == "1,234.5"
    assert de.number(-0.04, 1) == "0,0" and de.number(-1234567, 0) == "-1.234.567"
    assert de.q(Q(12.345, "pct", 1)) == "12,3 %" and en.q(Q(12.345, "pct", 1)) == "12.3%"
    assert de.q(Q(266.666, "pct_change", 1)) == "+266,7 %"
    assert de.q(Q(-2.26, "pp", 1)) == "-2,3 PP" and en.q(Q(1.0, "pp", 1)) == "+1.0 pp"
    assert de.q(count_q(2)) == "< 3" and de.q(count_q(3)) == "3" and de.q(count_q(0)) == "0"
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
    ("id: x\nscope: all\nreports: [{kind: partner_statement, every: year}]\n", "cannot be issued every"),
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
    defs = load_definitions(FIXTURES / "recipients")
    cat = catalogue(con)
    recips = {r.id: r for r in expand_auto_partners(defs, list(partners_of(cat).values()), cat)}
    assert {f"partner-p-00{i}" for i in range(1, 8)} <= set(recips)
    p2 = recips["partner-p-002"]
    assert p2.scope.contracts == ("C-002",) and p2.emails == ("billing@muster-robotik.test",)
    assert recips["partner-p-003"].emails == ()


def test_scope_combines_conditions():
    s = Scope(funders=("bund-strukturwandel",), usage_areas=("cooperation",))
    assert s.covers("C-002", ["bund-strukturwandel"], "cooperation")
    assert not s.covers("C-001", ["bund-strukturwandel"], "methods_research")
    assert not s.covers("C-007", ["eu-jtf"], "cooperation")
    assert Scope(contracts=("C-004",)).covers("C-004", [], "methods_research")


# ---------------------------------------------------------------- funder report

def test_funder_headline_equals_hand_sums(con, settings):
    data = build(build_funder_report, con, funder("bund", ["bund-strukturwandel"]), "2026-Q4", settings)
    h = head(data)
    assert h["gpu_hours"]["value"].value == 440.0 and h["gpu_hours"]["previous"].value == 120.0
    assert h["gpu_hours"]["change"].value == pytest.approx(266.6667, abs=1e-3)
    assert h["cpu_core_hours"]["value"].value == 440.0 * 16
    assert h["jobs"]["value"].value == 15 and h["jobs"]["previous"].value == 2
    assert h["active_users"]["value"].value == 13 and not h["active_users"]["value"].suppressed
    assert h["active_users"]["previous"].suppressed  # 2 users in Q3
    assert h["active_partners"]["value"].value == 5
    assert h["new_partners"]["value"].value == 2  # P-003 from 2026-10-01, P-005 from 2026-11-01
    assert h["revier_gpu_hour_share_pct"]["value"].value == pytest.approx(400 / 440 * 100)
    assert h["revier_gpu_hour_share_pct"]["change"].value == pytest.approx(400 / 440 * 100 - 100)
    assert h["company_gpu_hour_share_pct"]["value"].value == pytest.approx(260 / 440 * 100)
    assert h["trainees"]["value"].value == 5
    assert h["cost_eur"]["value"].value == pytest.approx(374.0)
    assert h["compute_value_eur"]["value"].value == pytest.approx(1100.0)
    assert h["subsidy_eur"]["value"].value == pytest.approx(726.0)
    assert h["it_energy_kwh"]["value"].value == pytest.approx(308.0)
    areas = {r["area"].key: r for r in data["usage_by_area"]["rows"]}
    assert areas["methods_research"]["gpu_hours"].value == 160 and areas["cooperation"]["gpu_hours"].value == 260
    assert areas["education"]["gpu_hours"].value == 20
    assert areas["cooperation"]["change"].value == pytest.approx((260 - 40) / 40 * 100)


def test_funder_year_report_buckets_by_month(con, settings):
    data = build(build_funder_report, con, funder("bund", ["bund-strukturwandel"]), "2026", settings)
    series = data["usage_by_area"]["series"]
    assert series["bucket_kind"] == "month" and len(series["buckets"]) == 12
    assert sum(series["gpu_hours"]["methods_research"]) == 160 + 80
    assert series["gpu_hours"]["cooperation"][9] == 64 + 16 + 80  # October: j05, j06, j08
    assert head(data)["gpu_hours"]["value"].value == 440 + 120
    assert head(data)["gpu_hours"]["previous"].value == 0
    assert head(data)["gpu_hours"]["change"].missing  # no change against nothing
    assert len(data["energy"]["pue_by_month"]) == 12


def test_funder_centre_figures_come_from_the_kpi_mart(con, settings):
    data = build(build_funder_report, con, funder("bund", ["bund-strukturwandel"]), "2026-Q4", settings)
    kpi = dict(con.execute("select kpi, value from marts.fct_impact_kpis where period = '2026-Q4' "
                           "and usage_area = 'all'").fetchall())
    centre = {r["label"].key: r["value"].value for r in data["energy"]["centre"]}
    for key in ("it_energy_kwh", "facility_energy_kwh", "pue", "erf", "renewable_share_pct", "co2e_market_kg"):
        assert centre[key] == pytest.approx(kpi[key])
    assert data["capacity"]["installed_gpus"].value == 32
    assert data["capacity"]["capacity_gpu_hours"].value == 32 * (92 * 24 + 1)
    assert data["education"]["courses_centre"].value == 4
    assert data["state_aid"]["economic_use_share"].value == pytest.approx(12.4)
    assert data["state_aid"]["status_key"] == "ok"


def test_scope_keeps_other_funders_contracts_out(con, settings):
    bund = build(build_funder_report, con, funder("bund", ["bund-strukturwandel"]), "2026-Q4", settings)
    text = json.dumps(canonical(bund), ensure_ascii=False)
    assert "Dresdner Sachsenlabor" not in text and "C-004" not in text and "C-007" not in text
    sachsen = build(build_funder_report, con, funder("sachsen", ["freistaat-sachsen"]), "2026-Q4", settings)
    assert head(sachsen)["gpu_hours"]["value"].value == 160 + 80
    s_text = json.dumps(canonical(sachsen), ensure_ascii=False)
    assert "Dresdner Sachsenlabor" in s_text and "Muster Robotik" not in s_text


def test_confidential_partners_and_pseudonyms_never_in_data(con, settings):
    for rec in (funder("bund", ["bund-strukturwandel"]), funder("eu", ["eu-jtf"])):
        text = json.dumps(canonical(build(build_funder_report, con, rec, "2026-Q4", settings)), ensure_ascii=False)
        for name in CONFIDENTIAL:
            assert name not in text
        assert "u_0000" not in text
    p3 = Recipient("partner-p-003", "P-003", "partner", ("de",), Scope(contracts=("C-003",)),
                   (ReportSpec("partner_statement", "month"),))
    text = json.dumps(canonical(build(build_partner_statement, con, p3, "2026-10", settings)), ensure_ascii=False)
    assert "Geheimwerk" not in text and "P-003" in text


def test_confidential_contracts_are_merged_into_a_group_of_three(con, settings):
    data = build(build_funder_report, con, funder("bund", ["bund-strukturwandel"]), "2026-Q4", settings)
    c = data["contracts"]
    # P-003 is the only confidential partner: the two smallest named contracts join it
    # (C-006 used 20, C-005 used 40), so the group has 3 partners
    assert [r["contract_id"] for r in c["rows"]] == ["C-001", "C-002"]
    g = c["group"]
    assert (g["partners"].value, g["confidential_partners"].value, g["merged_named"].value) == (3, 1, 2)
    assert g["used"].value == 100 + 20 + 40
    assert g["allocated"].value == 3 * 500 + 3 * 100 + 2 * 200
    assert c["total"]["used"].value == 440 and c["total"]["allocated"].value == 3000 + 7500 + 1500 + 300 + 400


def test_too_small_group_is_suppressed(con, settings):
    data = build(build_funder_report, con, funder("eu", ["eu-jtf"]), "2026-Q4", settings)
    g = data["contracts"]["group"]
    assert g["partners"].value == 2 and g["suppressed"]
    assert g["used"].suppressed and g["used"].value is None
    assert data["contracts"]["rows"] == []
    assert data["contracts"]["total"]["used"].value == 40


def test_partner_counts_below_three_are_suppressed(con, settings):
    data = build(build_funder_report, con, funder("bund", ["bund-strukturwandel"]), "2026-Q4", settings)
    reg = data["regional"]
    assert {r["type"].key: (r["partners"].value, r["partners"].suppressed) for r in reg["by_type"]} == {
        "education_provider": (1, True), "large_enterprise": (1, True), "sme": (2, True), "university": (1, True)}
    sme = next(r for r in reg["by_type"] if r["type"].key == "sme")
    assert sme["partners"].value == 2 and sme["partners"].suppressed
    assert reg["partners_revier"].value == 4 and not reg["partners_revier"].suppressed
    assert reg["partners_outside"].value == 1 and reg["partners_outside"].suppressed
    assert reg["new_named"] == ["Skript <script>alert('x')</script> AG"]
    assert reg["new_confidential"].value == 1


def test_group_partner_rows_rules():
    def row(pid, conf, used):
        return {"partner_id": pid, "confidential": conf, "partner_type": "sme", "used": used, "order": pid}

    named, agg = group_partner_rows([row("A", False, 5), row("B", True, 1), row("C", True, 2), row("D", True, 3)],
                                    ("used",), "used")
    assert [r["partner_id"] for r in named] == ["A"] and agg["partners"] == 3 and agg["used"] == 6
    named, agg = group_partner_rows([row("A", False, 5)], ("used",), "used")
    assert agg is None and len(named) == 1


def test_dq_appendix_takes_the_latest_run_per_suite(con, settings):
    data = build(build_funder_report, con, funder("bund", ["bund-strukturwandel"]), "2026-Q4", settings)
    dq = data["dq"]
    got = {(r["suite"], r["expectation"]): r["outcome_key"] for r in dq["results"]}
    assert got == {
        ("marts.fct_energy_daily", "it_not_above_grid"): "passed",
        ("marts.fct_energy_daily", "pue_in_range"): "failed",
        ("marts.fct_usage_daily", "gpu_hours_conserved"): "accepted",
        ("raw.slurm_jobs", "jobs_end_after_start"): "passed",
        ("raw.slurm_jobs", "user_pseudonymised"): "passed",
    }
    counts = {k: v.value for k, v in dq["counts"].items()}
    assert counts == {"expectations": 5, "passed": 3, "warning_failed": 1, "critical_failed": 0, "accepted": 1}
    observed = {r["expectation"]: r["observed"] for r in dq["results"]}
    assert "u_0000" not in observed["pue_in_range"] and "u_…" in observed["pue_in_range"]
    assert observed["gpu_hours_conserved"] == "diff 0.2 ([confidential])"
    assert "31 December" in next(r["acceptance_reason"] for r in dq["results"] if r["outcome_key"] == "accepted")
    assert sorted(data["provenance"]["dq_run_ids"]) == ["dq-20270102T031000Z-raw-raw003", "dq-20270102T031500Z-marts-new002"]


def test_provenance_summarises_loaded_inputs(con, settings):
    data = build(build_funder_report, con, funder("bund", ["bund-strukturwandel"]), "2026-Q4", settings)
    inputs = {i["source"]: i for i in data["provenance"]["inputs"]}
    assert inputs["slurm"]["files"].value == 2 and inputs["slurm"]["rows"].value == 68  # duplicate not counted
    assert len(inputs["slurm"]["sha256"]) == 64
    assert data["provenance"]["latest_energy_day"] == date(2026, 11, 1)


def test_data_hash_ignores_provenance(con, settings):
    rec = funder("bund", ["bund-strukturwandel"])
    a = build(build_funder_report, con, rec, "2026-Q4", settings)
    b = build_funder_report(con, rec, Period.parse("2026-Q4"), settings, run_id="other", code_version="other")
    assert data_hash(a) == data_hash(b)
    c = build(build_funder_report, con, funder("eu", ["eu-jtf"]), "2026-Q4", settings)
    assert data_hash(a) != data_hash(c)


# ---------------------------------------------------------------- partner statement and energy report

def test_partner_statement_figures(con, settings):
    rec = Recipient("partner-p-002", "P-002", "partner", ("de",), Scope(contracts=("C-002",)),
                    (ReportSpec("partner_statement", "month"),))
    data = build(build_partner_statement, con, rec, "2026-10", settings)
    t = data["totals"]
    assert t["gpu_hours"].value == 80 and t["cost_eur"].value == pytest.approx(96.0) and t["jobs"].value == 2
    assert t["users"].value == 2 and t["users"].suppressed
    assert t["subsidy_eur"].value == pytest.approx(80 * 2.5 - 96.0)
    assert {r["state"].key: (r["jobs"].value, r["gpu_hours"].value) for r in data["jobs_by_state"]} == {
        "COMPLETED": (1, 64.0), "CANCELLED": (1, 16.0)}
    assert len(data["daily"]) == 31
    assert {r["day"]: r["gpu_hours"].value for r in data["daily"] if r["gpu_hours"].value} == {
        date(2026, 10, 6): 64.0, date(2026, 10, 20): 16.0}
    row = data["contracts"][0]
    assert row["allocated"].value == 2500 and row["utilisation"].value == pytest.approx(3.2)
    assert row["allocated_ytd"].value == 4 * 2500  # the fixture's allocation rows start in July
    assert row["used_ytd"].value == 40 + 80
    assert data["recipient"]["name"] == "Muster Robotik GmbH"


def test_energy_report_equals_kpi_mart(con, settings):
    rec = Recipient("energy-regulator", "Reg", "regulator", ("de",), Scope(everything=True),
                    (ReportSpec("energy_annual", "year"),))
    data = build(build_energy_report, con, rec, "2026", settings)
    kpi = dict(con.execute("select kpi, value from marts.fct_impact_kpis where period = '2026' "
                           "and usage_area = 'all'").fetchall())
    h = head(data)
    for key in ("facility_energy_kwh", "it_energy_kwh", "pue", "erf", "gpu_utilization_pct", "peak_it_load_kw"):
        assert h[key]["value"].value == pytest.approx(kpi[key])
    assert h["ref"]["value"].value == pytest.approx(kpi["renewable_share_pct"] / 100)
    assert h["it_energy_kwh"]["value"].value == pytest.approx(sum(150000 + 5000 * m for m in range(1, 13)))
    assert h["pue"]["previous"].value == pytest.approx(1.35)
    assert data["facility"]["floor_area_m2"].value == 1000 and data["facility"]["design_it_power_kw"].value == 3000
    assert data["facility"]["installed_gpus"].value == 32 and data["facility"]["cpu_nodes"].value == 2
    assert len(data["monthly"]) == 12 and data["monthly"][9]["pue"].value == pytest.approx(1.25)
    assert data["meters"]["total"]["grid_kwh"].value == 15000 and data["meters"]["total"]["days"].value == 3


def test_missing_marts_give_empty_sections_not_errors(tmp_path, settings):
    path = tmp_path / "empty.duckdb"
    c = connect(path)
    init_schema(c)
    c.close()
    con = open_readonly(path)
    try:
        data = build(build_funder_report, con, funder("bund", ["bund-strukturwandel"]), "2026-Q4", settings)
        assert data["scope"]["empty"] and head(data)["gpu_hours"]["value"].value == 0
        assert data["dq"]["available"] is False
        energy = build(build_energy_report, con, Recipient("r", "r", "regulator", ("de",), Scope(everything=True),
                                                           (ReportSpec("energy_annual", "year"),)), "2026", settings)
        assert energy["headline"][0]["value"].missing
    finally:
        con.close()


def test_confidential_flag_from_either_dimension_and_missing_means_confidential(tmp_path):
    path = tmp_path / "dims.duckdb"
    c = connect(path)
    c.execute("create schema marts")
    c.execute("create table marts.dim_contract (contract_id varchar, partner_id varchar, usage_area varchar, "
              "funders varchar[], partner_name varchar, is_partner_confidential boolean)")
    c.execute("insert into marts.dim_contract values ('C-1', 'P-1', 'cooperation', ['f'], 'Eins GmbH', true), "
              "('C-2', 'P-2', 'cooperation', ['f'], 'Zwei GmbH', false), ('C-3', 'P-3', 'cooperation', ['f'], 'Drei', null)")
    c.execute("create table marts.dim_partner (partner_id varchar, partner_name varchar, partner_type varchar)")
    c.execute("insert into marts.dim_partner values ('P-1', 'Eins GmbH', 'sme'), ('P-2', 'Zwei GmbH', 'sme'), "
              "('P-3', 'Drei', 'sme')")
    c.close()
    con = open_readonly(path)
    try:
        conf = {r["contract_id"]: r["confidential"] for r in catalogue(con)}
    finally:
        con.close()
    assert conf == {"C-1": True, "C-2": False, "C-3": True}
    c = connect(path)
    c.execute("alter table marts.dim_contract drop column is_partner_confidential")
    c.close()
    con = open_readonly(path)
    try:
        assert all(r["confidential"] for r in catalogue(con))  # no flag anywhere: nobody is named
    finally:
        con.close()


def test_broken_definition_is_skipped_when_not_strict(tmp_path):
    (tmp_path / "good.yaml").write_text("id: good\nscope: all\nreports: [energy_annual]\n")
    (tmp_path / "bad.yaml").write_text("id: bad\nscope: all\nreports: [{kind: brochure}]\n")
    defs = load_definitions(tmp_path, strict=False)
    assert [r.id for r in defs.recipients] == ["good"]
    assert len(defs.errors) == 1 and "bad.yaml" in defs.errors[0]


def test_energy_quality_from_split_columns_on_daily_usage(tmp_path):
    from kirz.reporting.data import energy_quality

    path = tmp_path / "q.duckdb"
    c = connect(path)
    c.execute("create schema marts")
    c.execute("create table marts.fct_usage_daily (day date, contract_id varchar, measured_kwh double, "
              "interpolated_kwh double, estimated_kwh double)")
    c.execute("insert into marts.fct_usage_daily values ('2026-10-01', 'C-1', 60, 15, 5), "
              "('2026-10-02', 'C-1', 20, 0, 0), ('2026-10-02', 'C-2', 999, 0, 0), ('2026-11-01', 'C-1', 999, 0, 0)")
    c.close()
    con = open_readonly(path)
    try:
        q = energy_quality(con, ["C-1"], Period.parse("2026-10"), load_settings(env={}).tz)
    finally:
        con.close()
    got = {r["quality"].key: (r["kwh"].value, round(r["share"].value, 6)) for r in q["rows"]}
    assert got == {"measured": (80.0, 80.0), "interpolated": (15.0, 15.0), "estimated": (5.0, 5.0)}


def test_energy_quality_from_job_labels(con, settings):
    from kirz.reporting.data import energy_quality

    q = energy_quality(con, ["C-002", "C-003"], Period.parse("2026-Q4"), settings.tz)
    got = {r["quality"].key: r["kwh"].value for r in q["rows"]}
    # j06 (16 GPU-h) interpolated, j09 (20 GPU-h) estimated, the rest measured; 0.7 kWh per GPU-hour
    assert got == pytest.approx({"measured": (64 + 40 + 80) * 0.7, "interpolated": 16 * 0.7, "estimated": 20 * 0.7})


def test_suppressed_figures_keep_no_value_in_stored_form():
    from kirz.reporting.model import Figure, L

    f = Figure("scope.active_users", L("kpi", "active_users"), count_q(2))
    assert f.to_json()["value"] is None and f.to_json()["suppressed"] is True
    assert Figure.from_json(f.key, f.to_json()).value.canonical() == count_q(1).canonical()


def test_dq_appendix_has_one_line_per_expectation_over_the_periods_days(tmp_path):
    """A marts run stores one result per local day; the appendix combines the period's days."""
    import duckdb

    from kirz.reporting.data import dq_section
    from kirz.validation import init_dq_schema

    con = duckdb.connect(str(tmp_path / "dq.duckdb"))
    init_dq_schema(con)
    con.execute(
        "insert into audit.dq_runs (run_id, started_at, layer, period_start, period_end, status) values "
        "('r1', timestamptz '2026-11-02 03:00:00+00', 'marts', date '2026-09-30', date '2026-10-02', 'failed')"
    )
    for day, ok, n in [("2026-09-30", False, 9), ("2026-10-01", True, 0), ("2026-10-02", False, 4)]:
        con.execute(
            "insert into audit.dq_results (run_id, suite, expectation, severity, meaning, success, observed_value, "
            "unexpected_count, period_start, period_end, accepted) values "
            "('r1', 'marts.fct_energy_daily', 'pue_in_range', 'critical', 'PUE is plausible', ?, ?, ?, ?, ?, false)",
            [ok, f"{n} days", n, day, day],
        )
    dq = dq_section(con, Period.parse("2026-Q4"), [])
    (line,) = dq["results"]
    assert (line["expectation"], line["outcome_key"], line["unexpected"].value) == ("pue_in_range", "failed", 4)
    assert {k: v.value for k, v in dq["counts"].items()}["critical_failed"] == 1
