"""validate / gate / accept / dq_summary: results kept in audit.*, the HTML page, the gate's rules."""

import json
from dataclasses import replace
from datetime import date

import pytest

from kirz.config import load_settings
from kirz.validation import accept, dq_summary, gate, init_dq_schema, validate
from kirz.warehouse import open_warehouse
from test_expectations_marts import clean_warehouse  # noqa: F401  (fixture: with the intermediate models)
from test_validation_data import (  # noqa: F401  (fixtures)
    D1,
    D2,
    insert,
    job,
    warehouse,
)


@pytest.fixture
def settings(warehouse, tmp_path):
    return load_settings(env={}, home=tmp_path / "home", warehouse=warehouse, pseudonym_key="k")


def _spoil(path):
    """A critical failure on D1 (a 12 kW sample on gpu002, rated 10.5 kW) and a warning on D2
    (an account no contract covers)."""
    with open_warehouse(path) as con:
        insert(con, "node_power", 9, 1, sample_at="2026-10-20 12:00:30+00", node="gpu002", watts=12000.0)
        job(con, 9, 2, "4001", account="ghost", partition="cpu", submit_at="2026-10-21 10:00:00+00",
            start_at="2026-10-21 10:00:00+00", end_at="2026-10-21 11:00:00+00", elapsed_s=3600,
            nodes=["cpu01"], node_list="cpu01")


def _query(path, sql, params=None):
    with open_warehouse(path, read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_results_are_stored_in_audit_and_rendered(settings, warehouse):
    _spoil(warehouse)
    run = validate(settings, layer="raw", since=D1, until=D2)
    assert (run.status, run.critical, run.warnings) == ("failed", 1, 1)
    assert run.passed == run.expectations - 2 == 109 - 2
    assert run.run_id.startswith("dq-") and run.run_id.split("-")[2] == "raw"

    [stored] = _query(warehouse, "select layer, batch, period_start, period_end, suites, expectations, passed, "
                                 "warnings, critical, status, html_path from audit.dq_runs")
    assert stored == ("raw", "2026-10-20..2026-10-21", D1, D2, 10, 109, 107, 1, 1, "failed", str(run.html_path))
    failures = _query(
        warehouse,
        "select suite, table_name, expectation, expectation_type, severity, period_start, period_end, batch, "
        "unexpected_count, observed_value, unexpected_examples, accepted from audit.dq_results "
        "where run_id = ? and not success order by severity",
        [run.run_id],
    )
    assert [f[:10] + (json.loads(f[10]), f[11]) for f in failures] == [
        ("raw.node_power", "raw.node_power", "power_watts_within_node_max", "ExpectColumnPairValuesAToBeGreaterThanB",
         "critical", D1, D1, "2026-10-20", 1, "1 unexpected of 3 rows",
         [{"node": "gpu002", "period_start": "2026-10-20", "max_watts": 12000.0, "max_w": 10500.0,
           "samples_over_max": 1}], False),
        ("raw.slurm_jobs", "raw.slurm_jobs", "jobs_account_covered", "ExpectColumnValuesToBeInSet",
         "warning", D2, D2, "2026-10-21", 1, "1 unexpected of 3 rows", [{"account": "ghost"}], False),
    ]
    # the same expectation on the other day passed and is stored too
    assert _query(warehouse, "select success, unexpected_count from audit.dq_results where run_id = ? and "
                             "expectation = 'power_watts_within_node_max' and period_start = ?", [run.run_id, D2]) == [(True, 0)]

    page = settings.home / "dq" / f"{run.run_id}.html"
    assert run.html_path == page and page.is_file()
    html = page.read_text()
    assert "power_watts_within_node_max" in html and "jobs_account_covered" in html
    assert "No node draws more power than its rated maximum in the inventory." in html
    assert (settings.home / "dq" / "latest.html").read_text() == html


def test_gate_blocks_the_day_of_a_critical_failure_and_lets_warnings_through(settings, warehouse):
    _spoil(warehouse)
    validate(settings, layer="raw", since=D1, until=D2)
    with open_warehouse(warehouse) as con:
        blocked = gate(con, D1, D1)
        assert not blocked.ok
        assert [(b["suite"], b["expectation"], b["period_start"]) for b in blocked.blocking] == [
            ("raw.node_power", "power_watts_within_node_max", D1)]
        assert "raw.node_power / power_watts_within_node_max on 2026-10-20" in blocked.message
        assert "gpu002" in blocked.message and "blocked by 1 critical" in blocked.message

        d2 = gate(con, D2, D2)
        assert d2.ok and d2.blocking == []
        assert [(w["expectation"], w["period_start"]) for w in d2.warnings] == [("jobs_account_covered", D2)]
        assert "1 warning(s)" in d2.message

        both = gate(con, D1, D2)
        assert not both.ok and len(both.blocking) == 1 and len(both.warnings) == 1


def test_accepting_a_critical_failure_is_recorded_and_unblocks(settings, warehouse):
    _spoil(warehouse)
    run = validate(settings, layer="raw", since=D1, until=D2)
    reason = "gpu002 PSU firmware reports peaks above rating; vendor ticket 4711"
    with pytest.raises(ValueError, match="reason"):
        accept(settings, "raw.node_power", "power_watts_within_node_max", D1, D1, "  ", "ops")
    with pytest.raises(ValueError, match="no expectation"):
        accept(settings, "raw.node_power", "power_watts_typo", D1, D1, reason, "ops")
    with pytest.raises(ValueError, match="unknown suite"):
        accept(settings, "raw.nodes_power", "power_watts_within_node_max", D1, D1, reason, "ops")
    # an acceptance for another day does not cover D1
    accept(settings, "raw.node_power", "power_watts_within_node_max", D2, D2, "other day", "ops")
    with open_warehouse(warehouse) as con:
        assert not gate(con, D1, D1).ok

    accept(settings, "raw.node_power", "power_watts_within_node_max", D1, D1, reason, "ops")
    assert _query(warehouse, "select suite, expectation, period_start, period_end, reason, accepted_by "
                             "from audit.dq_acceptances order by accepted_at") == [
        ("raw.node_power", "power_watts_within_node_max", D2, D2, "other day", "ops"),
        ("raw.node_power", "power_watts_within_node_max", D1, D1, reason, "ops"),
    ]
    assert _query(warehouse, "select accepted, acceptance_reason from audit.dq_results where run_id = ? "
                             "and not success and severity = 'critical'", [run.run_id]) == [(True, reason)]
    with open_warehouse(warehouse) as con:
        decision = gate(con, D1, D2)
        assert decision.ok and decision.blocking == []
        assert [(a["expectation"], a["acceptance_reason"]) for a in decision.accepted] == [
            ("power_watts_within_node_max", reason)]
        assert [w["expectation"] for w in decision.warnings] == ["jobs_account_covered"]

        summary = dq_summary(con, D1, D2)
    assert summary["gate_ok"] and summary["status"] == "warning"
    node_power = next(s for s in summary["suites"] if s["suite"] == "raw.node_power")
    entry = next(e for e in node_power["expectations"] if e["expectation"] == "power_watts_within_node_max")
    assert (entry["outcome"], entry["periods_checked"], entry["periods_failed"], entry["acceptance_reason"]) == (
        "accepted", 2, 1, reason)
    assert entry["unexpected_examples"][0]["node"] == "gpu002"
    # 7 critical and 5 warning expectations of the two period-bound raw suites with failures...
    assert summary["counts"]["critical"]["accepted"] == 1 and summary["counts"]["critical"]["failed"] == 0
    assert summary["counts"]["warning"]["failed"] == 1
    # ... out of 32 + 27 expectations of the seven raw suites
    assert sum(c["checks"] for c in summary["counts"].values()) == 39 + 35
    assert [a["reason"] for a in summary["acceptances"]] == ["other day", reason]
    assert [r["run_id"] for r in summary["runs"]] == [run.run_id]


def test_a_later_run_of_the_day_supersedes_the_failure(settings, warehouse):
    _spoil(warehouse)
    validate(settings, layer="raw", since=D1, until=D2)
    with open_warehouse(warehouse) as con:
        con.execute("delete from raw.node_power where watts > 10500")
    validate(settings, layer="raw", since=D1, until=D1)
    with open_warehouse(warehouse) as con:
        assert gate(con, D1, D1).ok
        # D2's warning comes from the first run, still the latest for that day
        d2 = gate(con, D2, D2)
        assert d2.ok and [w["expectation"] for w in d2.warnings] == ["jobs_account_covered"]


def test_gate_without_any_validation_blocks_and_says_so(tmp_path):
    with open_warehouse(tmp_path / "empty.duckdb") as con:
        init_dq_schema(con)
        decision = gate(con, D1, D2)
        summary = dq_summary(con, D1, D2)
    assert not decision.ok
    assert "no data-quality results cover this period" in decision.message
    assert "kirz validate --since 2026-10-20 --until 2026-10-21" in decision.message
    assert summary["status"] == "not_validated" and summary["suites"] == []


def test_without_a_window_a_layer_validates_what_was_ingested_since_its_last_run(settings, warehouse):
    first = validate(settings, layer="raw")
    # ingests 1..6; the meter readings start at 23:00 local on 2026-10-19, so that day counts too
    assert first.batch == "ingest:1-6"
    assert (first.period_start, first.period_end) == (date(2026, 10, 19), D2)
    # 2026-10-19 holds no power samples: three inventory nodes are uncovered that day (warning)
    assert {(r["expectation"], r["period_start"]) for r in first.results if not r["success"]} == {
        ("power_coverage", date(2026, 10, 19))}

    again = validate(settings, layer="raw")
    assert again.batch == "ingest:none" and again.period_start is None
    # only the whole-table suites run: inventories, contracts, certificates, meter values
    assert {r["suite"] for r in again.results} == {
        "raw.inventory_nodes", "raw.inventory_meters", "raw.inventory_facility", "raw.contract_versions",
        "raw.certificates", "raw.meter_values"}
    assert again.expectations == 39 and again.status == "passed"

    with open_warehouse(warehouse) as con:
        job(con, 7, 1, "5001", "2026-10-22 02:00:00+00", submit_at="2026-10-21 12:00:00+00",
            start_at="2026-10-21 12:00:00+00", end_at="2026-10-21 13:00:00+00", elapsed_s=3600,
            nodes=["cpu01"], node_list="cpu01", partition="cpu")
    third = validate(settings, layer="raw")
    assert third.batch == "ingest:7-7" and (third.period_start, third.period_end) == (D2, D2)
    assert _query(warehouse, "select layer, last_ingest_id from audit.dq_watermarks") == [("raw", 7)]


def test_marts_without_a_window_validate_the_days_whose_content_changed(settings, warehouse):
    first = validate(settings, layer="marts")
    # the first run covers every day the marts hold (a KPI period counts as its first day with data)
    assert first.batch == "changed:2026-10-20..2026-10-21 (2 days)" and first.status == "passed"
    again = validate(settings, layer="marts")
    assert again.batch == "changed:none" and again.period_start is None and again.results == []

    # a rebuild restates D2 with negative GPU-hours: only D2 is validated, and it fails
    with open_warehouse(warehouse) as con:
        con.execute("update marts.fct_usage_daily set gpu_hours = -16 where day = date '2026-10-21'")
    broken = validate(settings, layer="marts")
    assert broken.batch == "changed:2026-10-21..2026-10-21 (1 day)" and broken.status == "failed"
    assert ("usage_daily_nonnegative", D2) in {(r["expectation"], r["period_start"])
                                               for r in broken.results if not r["success"]}
    with open_warehouse(warehouse) as con:
        assert not gate(con, D1, D2).ok
        # the next rebuild fixes it: the day's content changed again, so it is validated again
        con.execute("update marts.fct_usage_daily set gpu_hours = 16 where day = date '2026-10-21'")
    fixed = validate(settings, layer="marts")
    assert fixed.batch == "changed:2026-10-21..2026-10-21 (1 day)" and fixed.status == "passed"
    with open_warehouse(warehouse) as con:
        assert gate(con, D1, D2).ok


def test_a_missing_mart_is_reported_not_raised(settings, warehouse):
    with open_warehouse(warehouse) as con:
        con.execute("drop table marts.fct_impact_kpis")
    run = validate(settings, layer="marts", since=D1, until=D1)
    kpi = [r for r in run.results if r["suite"] == "marts.fct_impact_kpis"]
    assert len(kpi) == 9 and not any(r["success"] for r in kpi)
    assert {r["observed_value"] for r in kpi} == {"not checked: table marts.fct_impact_kpis does not exist"}
    # the suite marts.conservation and the other marts are unaffected
    assert all(r["success"] for r in run.results if r["suite"] != "marts.fct_impact_kpis")
    with open_warehouse(warehouse) as con:
        decision = gate(con, D1, D1)
    assert not decision.ok and "marts.fct_impact_kpis / kpi_nonnegative" in decision.message


def test_a_batch_that_cannot_be_built_fails_its_suite_with_the_reason(settings, warehouse):
    with open_warehouse(warehouse) as con:
        con.execute("alter table marts.fct_usage_daily drop column cost_eur")
    run = validate(settings, layer="marts", since=D1, until=D1)
    broken = [r for r in run.results if r["suite"] == "marts.fct_usage_daily"]
    assert len(broken) == 5 and not any(r["success"] for r in broken)
    assert all(r["observed_value"].startswith("not checked: batch could not be built:") and "cost_eur" in r["observed_value"]
               for r in broken)
    assert run.status == "failed"


def test_both_layers_in_one_call(settings, warehouse):
    run = validate(settings, since=D1, until=D2)
    assert run.layer == "all" and [p.layer for p in run.parts] == ["raw", "marts"]
    stored = _query(warehouse, "select run_id, layer, status from audit.dq_runs order by layer desc")
    assert stored == [(run.parts[0].run_id, "raw", "passed"), (run.parts[1].run_id, "marts", "passed")]
    for part in run.parts:
        assert part.html_path.is_file()
    page = (settings.home / "dq" / "latest.html").read_text()
    assert page == run.html_path.read_text()
    assert run.parts[0].run_id in page and run.parts[1].run_id in page
    with open_warehouse(warehouse) as con:
        assert gate(con, D1, D2).ok


TOY_SUITE = '''
from kirz.validation import make_suite

SUITE = "raw.toy"
TABLE = "raw.inventory_facility"
GRAIN = None
SEVERITY = {
    "toy_area_present": ("critical", "The facility's floor area is recorded in the inventory."),
    "toy_missing_column": ("critical", "A column the batch does not have is checked all the same."),
}
EXAMPLES = {}


def load_frame(con, scope):
    return con.execute("select floor_area_m2 from raw.inventory_facility").df()


def build_suite():
    import great_expectations as gx

    E = gx.expectations
    return make_suite(SUITE, SEVERITY, EXAMPLES, [
        ("toy_area_present", E.ExpectColumnValuesToNotBeNull(column="floor_area_m2")),
        ("toy_missing_column", E.ExpectColumnValuesToNotBeNull(column="nope")),
    ])
'''


def test_an_expectation_gx_cannot_evaluate_fails_with_its_error_and_the_rest_still_runs(settings, warehouse, tmp_path, monkeypatch):
    folder = tmp_path / "expectations" / "raw"
    folder.mkdir(parents=True)
    (folder / "toy.py").write_text(TOY_SUITE)
    settings = replace(settings, expectations_dir=tmp_path / "expectations")
    run = validate(settings, layer="raw", since=D1, until=D1)
    assert [(r["suite"], r["expectation"], r["success"], r["observed_value"]) for r in run.results] == [
        ("raw.toy", "toy_area_present", True, "0 unexpected of 1 rows"),
        ("raw.toy", "toy_missing_column", False, 'error: Error: The column "nope" in BatchData does not exist.'),
    ]
    assert run.suites == 1 and run.status == "failed"
