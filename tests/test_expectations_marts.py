"""Each mart suite: a crafted bad batch fails exactly the expectations it was built to break.

The mart tables are made by hand with the DESIGN columns (tests/test_validation_data.py), with
the intermediate models the conservation suite reads as dbt builds them from the clean
warehouse's raw rows (:func:`test_validation_data.add_intermediate_models`); cross-checks against the raw layer use
those raw rows. The conservation tolerance is also checked on a real build (the demo centre).
"""

import json
import shutil
from datetime import date

import pytest

from kirz.validation import dbt_setting, suite_module
from kirz.warehouse import open_warehouse
from test_validation_data import (  # noqa: F401  (fixtures)
    D1,
    D2,
    build_clean,
    check,
    examples,
    failed,
    insert,
    job,
    warehouse,
)

D3 = date(2026, 10, 22)


@pytest.fixture(scope="session")
def clean_warehouse(tmp_path_factory):
    """The clean warehouse of test_validation_data (with the intermediate models dbt would build)."""
    return build_clean(tmp_path_factory.mktemp("dq-clean-intermediate") / "kirz.duckdb")


def test_every_mart_suite_names_severity_and_meaning_for_each_expectation():
    for name in ("marts.fct_job_usage", "marts.fct_usage_daily", "marts.fct_energy_daily",
                 "marts.fct_impact_kpis", "marts.conservation"):
        mod = suite_module(name)
        suite = mod.build_suite()
        assert {e.meta["id"] for e in suite.expectations} == set(mod.SEVERITY)
        for e in suite.expectations:
            assert e.meta["severity"] in ("critical", "warning") and len(e.meta["meaning"]) > 20


def _job_row(key, start, end, **kw):
    row = dict(job_key=f"kirz-leipzig:{key}", job_id=key, account="uni-ml", user_pseudonym="u_x", partition="gpu",
               state="COMPLETED", start_at=start, end_at=end, elapsed_s=3600, nnodes=1, gpus=0, cpus=0,
               gpu_hours=0.0, cpu_core_hours=0.0, it_energy_kwh=1.0, facility_energy_kwh=1.3, co2e_kg=0.4,
               contract_id="C-2", partner_id="P-2", usage_area="methods_research", cost_eur=0.0)
    row.update(kw)
    return row


def _insert_mart(con, table, row):
    cols = ", ".join(row)
    con.execute(f"insert into marts.{table} ({cols}) values ({', '.join('?' * len(row))})", list(row.values()))


def test_job_usage_each_planted_defect_fails_its_expectation(warehouse):
    h = "2026-10-20 {}:00+00".format
    with open_warehouse(warehouse) as con:
        con.execute("insert into marts.fct_job_usage select * from marts.fct_job_usage where job_id = '1001'")
        for row in [
            _job_row("3001", h("10:00"), h("11:00"), cost_eur=-5.0),
            _job_row("3002", h("10:00"), h("09:00")),
            _job_row("3003", h("10:00"), h("11:00"), gpus=8, gpu_hours=7.0),
            _job_row("3004", h("10:00"), h("11:00"), cpus=10, cpu_core_hours=11.0),
            _job_row("3005", h("10:00"), h("11:00"), usage_area="marketing"),
            _job_row("3006", h("10:00"), h("11:00"), contract_id=None, partner_id=None, usage_area="cooperation"),
            _job_row("3007", h("10:00"), h("11:00"), it_energy_kwh=5.0, facility_energy_kwh=4.0),
            _job_row("3008", h("10:00"), h("11:00"), it_energy_kwh=12.0, facility_energy_kwh=15.0),
        ]:
            _insert_mart(con, "fct_job_usage", row)
    rows = check(warehouse, "marts.fct_job_usage", days=(D1, D2))
    assert failed(rows) == set(suite_module("marts.fct_job_usage").SEVERITY)
    planted = {
        "job_usage_key_unique": ["1001"], "job_usage_nonnegative": ["3001"], "job_usage_end_after_start": ["3002"],
        "job_usage_gpu_hours": ["3003"], "job_usage_core_hours": ["3004"], "job_usage_area_known": ["3005"],
        "job_usage_contract_area": ["3006"], "job_usage_facility_ge_it": ["3007"],
        "job_usage_power_plausible": ["3008"],
    }
    for expectation, ids in planted.items():
        assert [e["job_id"] for e in examples(rows, expectation)] == ids, expectation
    assert examples(rows, "job_usage_gpu_hours")[0]["expected_gpu_hours"] == 8.0
    # 12 kWh in one hour on one node is 12 kW, above the largest rating (10.5 kW)
    assert examples(rows, "job_usage_power_plausible")[0]["avg_kw_per_node"] == 12.0
    assert examples(rows, "job_usage_power_plausible")[0]["node_kw_limit"] == 10.5
    # both copies of 1001 are unexpected; the example shows the key once
    assert next(r["unexpected_count"] for r in rows if r["expectation"] == "job_usage_key_unique" and not r["success"]) == 2
    assert {r["period_start"] for r in rows if not r["success"]} == {D1}


def test_usage_daily_each_planted_defect_fails_its_expectation(warehouse):
    with open_warehouse(warehouse) as con:
        con.execute(
            """
            insert into marts.fct_usage_daily values
            ('2026-10-20', 'C-1', 'P-1', 'cooperation', 0, 0, 0, 0, 0, 0, 0),
            ('2026-10-20', 'C-2', 'P-2', 'education', 0, -1, 0, 0, 0, 0, 0),
            ('2026-10-20', 'C-2', 'P-2', 'marketing', 0, 0, 0, 0, 0, 0, 0),
            ('2026-10-20', null, null, 'education', 0, 0, 0, 0, 0, 0, 0),
            ('2026-10-20', 'C-3', 'P-3', 'cooperation', 0, 1, 1, 2, 1.5, 0.5, 1)
            """
        )
    rows = check(warehouse, "marts.fct_usage_daily", days=(D1, D2))
    assert failed(rows) == set(suite_module("marts.fct_usage_daily").SEVERITY)
    assert [(e["contract_id"], e["usage_area"]) for e in examples(rows, "usage_daily_key_unique")] == [("C-1", "cooperation")]
    assert [e["gpu_hours"] for e in examples(rows, "usage_daily_nonnegative")] == [-1.0]
    assert [e["usage_area"] for e in examples(rows, "usage_daily_area_known")] == ["marketing"]
    assert [(e["contract_id"], e["usage_area"]) for e in examples(rows, "usage_daily_contract_area")] == [(None, "education")]
    assert [e["contract_id"] for e in examples(rows, "usage_daily_facility_ge_it")] == ["C-3"]


def test_energy_daily_each_planted_defect_fails_its_expectation(warehouse):
    with open_warehouse(warehouse) as con:
        # D1: PUE 297/110 = 2.7 (consistent, out of range); nodes 120 kWh > IT meter 110; idle 130 >
        # node 120; renewable 300 and heat reuse 400 > grid 297; negative cooling; peak 4 MW > design 3 MW
        con.execute(
            "update marts.fct_energy_daily set grid_kwh = 297, dc_kwh = 297, pue = 2.7, node_kwh = 120, idle_node_kwh = 130, "
            "renewable_kwh = 300, heat_reuse_kwh = 400, cooling_kwh = -1, peak_it_kw = 4000 where day = '2026-10-20'"
        )
        # D2: PUE 1.4 while 150/120 = 1.25; average 8 kW above the 7 kW peak, and 8 x 24 h != 120 kWh
        con.execute("update marts.fct_energy_daily set pue = 1.4, avg_it_kw = 8 where day = '2026-10-21'")
        # D3 has no row at all
    rows = check(warehouse, "marts.fct_energy_daily", days=(D1, D2, D3))
    assert failed(rows) == set(suite_module("marts.fct_energy_daily").SEVERITY)
    by_day = {}
    for r in rows:
        if not r["success"]:
            by_day.setdefault(r["period_start"], set()).add(r["expectation"])
    assert by_day == {
        D1: {"energy_pue_range", "energy_it_covers_nodes", "energy_idle_within_node", "energy_nonnegative",
             "energy_renewable_within_grid", "energy_heat_reuse_within_grid", "energy_peak_within_design"},
        D2: {"energy_pue_consistent", "energy_peak_ge_avg", "energy_avg_matches_it"},
        D3: {"energy_pue_present"},
    }
    assert examples(rows, "energy_avg_matches_it")[0]["avg_gap_pct"] == 60.0  # |8 x 24 - 120| / 120
    assert examples(rows, "energy_pue_present") == [{"day": "2026-10-22", "grid_kwh": None, "it_kwh": None, "in_mart": False}]


def test_energy_daily_uses_the_local_day_length_on_the_dst_change(warehouse):
    """2026-10-25 has 25 local hours: 125 kWh at an average of 5 kW is consistent."""
    dst = date(2026, 10, 25)
    with open_warehouse(warehouse) as con:
        con.execute("insert into marts.fct_energy_daily values ('2026-10-25', 160, 125, 100, 60, 25, 0, 50, 1.28, 5.0, 7.0, 160)")
    rows = check(warehouse, "marts.fct_energy_daily", days=(dst,))
    assert failed(rows) == set()
    with open_warehouse(warehouse) as con:
        con.execute("update marts.fct_energy_daily set avg_it_kw = 125 / 24.0 where day = '2026-10-25'")
    assert failed(check(warehouse, "marts.fct_energy_daily", days=(dst,))) == {"energy_avg_matches_it"}


def test_conservation_failures_land_on_the_day_they_concern(warehouse):
    with open_warehouse(warehouse) as con:
        # D1: daily GPU-hours of C-1 16 -> 17 (jobs say 32 in all); one job start fewer counted for C-2;
        # idle 61 kWh (40 + 61 != 100); an inventory of one GPU (24 GPU-h a day < 32)
        con.execute("update marts.fct_usage_daily set gpu_hours = 17 where day = '2026-10-20' and contract_id = 'C-1'")
        con.execute("update marts.fct_usage_daily set jobs_started = 0 where day = '2026-10-20' and contract_id = 'C-2'")
        con.execute("update marts.fct_energy_daily set idle_node_kwh = 61 where day = '2026-10-20'")
        insert(con, "inventory_nodes", 9, 1, cluster="kirz-leipzig", node="gpu001", partition="gpu", rack="R01",
               gpus=1, cpus=128, idle_w=1200.0, max_w=10500.0)
        # D2: a job dbt resolved as started that the job mart lacks; core-hours 272 -> 280
        con.execute("insert into intermediate.int_jobs_resolved (job_key, job_id, state, start_at, end_at) values "
                    "('kirz-leipzig:3001', '3001', 'COMPLETED', '2026-10-21 10:00:00+00', '2026-10-21 11:00:00+00')")
        con.execute("update marts.fct_usage_daily set cpu_core_hours = 280 where day = '2026-10-21'")
    rows = check(warehouse, "marts.conservation", days=(D1, D2))
    assert {(r["expectation"], r["period_start"]) for r in rows if not r["success"]} == {
        ("conservation_gpu_hours", D1), ("conservation_jobs_started", D1), ("conservation_energy", D1),
        ("conservation_gpu_capacity", D1), ("conservation_jobs_raw_vs_mart", D2), ("conservation_core_hours", D2),
    }
    assert examples(rows, "conservation_gpu_hours") == [{"day": "2026-10-20", "job_gpu_hours": 32.0, "daily_gpu_hours": 33.0}]
    assert examples(rows, "conservation_jobs_raw_vs_mart") == [
        {"day": "2026-10-21", "resolved_jobs_started": 2, "mart_jobs_started": 1, "jobs_unmatched": 1}]
    assert examples(rows, "conservation_gpu_capacity")[0]["gpu_hours_capacity"] == 24.0
    assert examples(rows, "conservation_core_hours")[0]["job_core_hours"] == 272.0


def test_conservation_counts_jobs_as_dbt_resolved_them(warehouse):
    """Which record of a job counts is int_jobs_resolved's rule (the latest delivery), not the suite's:
    a raw record saying 3002 started changes nothing while dbt resolved it as never started."""
    with open_warehouse(warehouse) as con:
        job(con, 9, 1, "3002", "2026-10-20 12:00:00+00", state="RUNNING", submit_at="2026-10-20 10:00:00+00",
            start_at="2026-10-20 11:00:00+00", elapsed_s=3600)
        con.execute("insert into intermediate.int_jobs_resolved (job_key, job_id, state, start_at, end_at) values "
                    "('kirz-leipzig:3002', '3002', 'CANCELLED', null, null)")
    assert failed(check(warehouse, "marts.conservation", days=(D1, D2))) == set()
    with open_warehouse(warehouse) as con:
        con.execute("update intermediate.int_jobs_resolved set start_at = '2026-10-20 11:00:00+00', "
                    "end_at = '2026-10-20 12:00:00+00' where job_id = '3002'")
    rows = check(warehouse, "marts.conservation", days=(D1, D2))
    assert {(r["expectation"], r["period_start"]) for r in rows if not r["success"]} == {
        ("conservation_jobs_raw_vs_mart", D1)}
    # the job mart has 1001 and 1002 that day, dbt says three jobs started
    assert examples(rows, "conservation_jobs_raw_vs_mart") == [
        {"day": "2026-10-20", "resolved_jobs_started": 3, "mart_jobs_started": 2, "jobs_unmatched": 1}]


def test_conservation_reads_its_tolerance_from_the_published_settings(warehouse):
    """ref.settings (the build's values) wins over dbt_project.yml: 33 against 32 GPU-hours is
    3.1 % off, within a tolerance of 0.05 and outside one of 0.01."""
    with open_warehouse(warehouse) as con:
        con.execute("update marts.fct_usage_daily set gpu_hours = 17 where day = '2026-10-20' and contract_id = 'C-1'")
        con.execute("create schema ref")
        con.execute("create table ref.settings (setting varchar, value varchar, description varchar)")
        con.execute("insert into ref.settings values ('conservation_tolerance', '0.05', 'test')")
        assert dbt_setting(con, "conservation_tolerance") == 0.05
    assert failed(check(warehouse, "marts.conservation", days=(D1,))) == set()
    with open_warehouse(warehouse) as con:
        con.execute("update ref.settings set value = '0.01' where setting = 'conservation_tolerance'")
    assert failed(check(warehouse, "marts.conservation", days=(D1,))) == {"conservation_gpu_hours"}


def test_impact_kpis_each_planted_defect_fails_its_expectation(warehouse):
    with open_warehouse(warehouse) as con:
        con.execute(
            """
            insert into marts.fct_impact_kpis values
            ('week', '2026-W43', 'all', 'gpu_hours', 1, 'h'),
            ('month', '2026-10', 'all', 'gpu_hours', 48, 'h'),
            ('month', '2026-10', 'all', 'jobs', -1, 'count'),
            ('quarter', '2026-Q4', 'all', 'revier_share_pct', 120, '%'),
            ('month', '2026-10', 'cooperation', 'pue', 3.1, 'ratio'),
            ('year', '2026', 'all', 'erf_total', 1.5, 'ratio'),
            ('month', '2026-10', 'all', 'co2e_kg', null, 'kg'),
            ('month', '2026-10', 'marketing', 'gpu_hours', 1, 'h'),
            ('month', '2026-09', 'all', 'jobs', -7, 'count')
            """
        )
    rows = check(warehouse, "marts.fct_impact_kpis", days=(D1, D2))
    assert failed(rows) == set(suite_module("marts.fct_impact_kpis").SEVERITY)
    october, q4, year = (date(2026, 10, 1), date(2026, 10, 31)), (date(2026, 10, 1), date(2026, 12, 31)), (date(2026, 1, 1), date(2026, 12, 31))
    unreadable = (D1, D2)  # a period that cannot be read is reported against the validated days
    assert {(r["expectation"], (r["period_start"], r["period_end"])) for r in rows if not r["success"]} == {
        ("kpi_period_type_known", unreadable), ("kpi_period_format", unreadable),
        ("kpi_key_unique", october), ("kpi_nonnegative", october), ("kpi_shares_within_0_100", q4),
        ("kpi_pue_range", october), ("kpi_erf_range", year), ("kpi_value_present", october),
        ("kpi_area_known", october),
    }
    # September does not overlap the validated days: its negative value is not in this batch
    assert all(e["period"] != "2026-09" for e in examples(rows, "kpi_nonnegative"))
    assert {r["batch"] for r in rows} == {"2026-10-01..2026-10-31", "2026-10-01..2026-12-31",
                                         "2026-01-01..2026-12-31", "2026-10-20..2026-10-21"}


def test_conservation_leaves_out_job_energy_estimated_without_samples(warehouse):
    """Jobs on D2 got 5 kWh more, estimated for time without samples: not node energy."""
    with open_warehouse(warehouse) as con:
        con.execute("update marts.fct_usage_daily set it_energy_kwh = it_energy_kwh + 5 where day = '2026-10-21'")
    rows = check(warehouse, "marts.conservation", days=(D1, D2))
    assert {(r["expectation"], r["period_start"]) for r in rows if not r["success"]} == {("conservation_energy", D2)}
    with open_warehouse(warehouse) as con:
        con.execute("update intermediate.int_job_days_accounted set it_energy_kwh = it_energy_kwh + 5, estimated_kwh = 5 "
                    "where job_key = 'kirz-leipzig:1003'")
    assert failed(check(warehouse, "marts.conservation", days=(D1, D2))) == set()


def test_impact_kpis_percentages_that_may_pass_100_are_not_errors(warehouse):
    """A de-minimis ceiling used at 130 % or a peak at 104 % of design load are findings, not bad data."""
    with open_warehouse(warehouse) as con:
        con.execute(
            """
            insert into marts.fct_impact_kpis values
            ('year', '2026', 'all', 'deminimis_max_ceiling_pct', 130, '%'),
            ('month', '2026-10', 'all', 'peak_it_load_design_pct', 104, '%'),
            ('month', '2026-10', 'all', 'company_gpu_hour_share_pct', 100.00000000000001, '%')
            """
        )
    assert failed(check(warehouse, "marts.fct_impact_kpis", days=(D1, D2))) == set()


@pytest.fixture(scope="module")
def built_warehouse(demo_centre, tmp_path_factory):
    """A copy of the demo centre's live warehouse: a real dbt build of 8 nodes x 3 days."""
    path = tmp_path_factory.mktemp("conservation-built") / "kirz.duckdb"
    shutil.copy(demo_centre.settings.warehouse_path, path)
    return path


def _built_days(path) -> tuple[date, ...]:
    with open_warehouse(path, read_only=True) as con:
        return tuple(r[0] for r in con.execute("select distinct day from marts.fct_usage_daily order by day").fetchall())


def test_a_real_build_is_conserved_within_the_one_tolerance(built_warehouse):
    with open_warehouse(built_warehouse, read_only=True) as con:
        [(published,)] = con.execute("select value from ref.settings where setting = 'conservation_tolerance'").fetchall()
        assert dbt_setting(con, "conservation_tolerance") == json.loads(published) > 0
    days = _built_days(built_warehouse)
    assert len(days) == 3
    rows = check(built_warehouse, "marts.conservation", days=days)
    assert failed(rows) == set()
    assert len(rows) == 6 * 3


@pytest.mark.parametrize("share, fails", [(0.5, False), (2.0, True)])
def test_a_planted_gap_fails_above_the_tolerance_and_passes_below(built_warehouse, tmp_path, share, fails):
    """GPU-hours of one day's largest group raised by half, then twice, the tolerance x the day's sum."""
    path = tmp_path / "kirz.duckdb"
    shutil.copy(built_warehouse, path)
    day = _built_days(path)[1]
    with open_warehouse(path) as con:
        tolerance = dbt_setting(con, "conservation_tolerance")
        total = con.execute("select sum(gpu_hours) from marts.fct_usage_daily where day = ?", [day]).fetchone()[0]
        assert total > 100  # a relative tolerance: the gap scales with the day's GPU-hours
        con.execute(
            "update marts.fct_usage_daily set gpu_hours = gpu_hours + ? where usage_daily_key = "
            "(select usage_daily_key from marts.fct_usage_daily where day = ? order by gpu_hours desc limit 1)",
            [share * tolerance * total, day],
        )
    rows = check(path, "marts.conservation", days=(day,))
    assert failed(rows) == ({"conservation_gpu_hours"} if fails else set())
    if fails:
        (example,) = examples(rows, "conservation_gpu_hours")
        assert example["day"] == day.isoformat() and example["job_gpu_hours"] == pytest.approx(total, abs=1e-6)
