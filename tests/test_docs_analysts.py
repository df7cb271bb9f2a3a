"""Every example query of docs/analysts.md runs on the demo snapshot and gives the right answer."""

import re
from pathlib import Path

import pytest

from kirz.analyst import run_query

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "analysts.md"


def examples() -> dict[str, str]:
    blocks = re.findall(r"```sql\n(.*?)```", GUIDE.read_text(), flags=re.S)
    named = {}
    for block in blocks:
        m = re.match(r"-- name: (\w+)\n", block)
        assert m, f"example without a name: {block[:60]!r}"
        named[m.group(1)] = block
    return named


def q(centre, sql):
    res = run_query(centre.settings, sql)
    return [dict(zip(res.columns, row)) for row in res.rows]


def test_the_guide_has_a_dozen_examples():
    assert len(examples()) >= 12


@pytest.mark.parametrize("name", sorted(examples()))
def test_every_example_runs(demo_centre, name):
    rows = q(demo_centre, examples()[name])
    assert rows, f"{name} returned no rows on the demo snapshot"


def test_usage_by_area_matches_the_generators_truth(demo_centre):
    rows = q(demo_centre, examples()["gpu_hours_by_usage_area_and_day"])
    truth = demo_centre.manifest["truth"]["by_usage_area"]
    for area, t in truth.items():
        got = sum(r.get(area) or 0 for r in rows)
        assert got == pytest.approx(t["gpu_hours"], abs=0.1 * len(rows)), area


def test_unassigned_jobs_are_the_uncovered_account(demo_centre):
    rows = q(demo_centre, examples()["jobs_that_ran_unassigned"])
    truth = demo_centre.manifest["truth"]["by_usage_area"]["unassigned"]
    assert [r["account"] for r in rows] == demo_centre.manifest["quirks"]["unassigned_accounts"]
    assert sum(r["jobs"] for r in rows) == truth["allocations_started"]


def test_energy_per_gpu_hour_is_energy_over_gpu_hours(demo_centre):
    rows = q(demo_centre, examples()["energy_per_gpu_hour_by_partition"])
    check = q(demo_centre, "select partition, sum(it_energy_kwh) as e, sum(gpu_hours) as h from marts.fct_job_usage where gpu_hours > 0 group by 1")
    by = {r["partition"]: r for r in check}
    for r in rows:
        assert float(r["it_kwh_per_gpu_hour"]) == pytest.approx(by[r["partition"]]["e"] / by[r["partition"]]["h"], abs=5e-4)


def test_pue_by_day_matches_the_meters_the_generator_wrote(demo_centre):
    rows = {str(r["day"]): r for r in q(demo_centre, examples()["pue_and_idle_share_by_day"])}
    for day in demo_centre.manifest["truth"]["energy_daily"]:
        assert float(rows[day["day"]]["pue"]) == pytest.approx(day["pue"], abs=2e-3), day["day"]


def test_top_partners_add_up_to_partner_usage(demo_centre):
    rows = q(demo_centre, examples()["top_partners_by_gpu_hours_in_a_quarter"])
    total = q(demo_centre, "select sum(gpu_hours) as h from marts.fct_usage_daily where partner_id is not null")[0]["h"]
    assert len(rows) == 10 and sum(float(r["gpu_hours"]) for r in rows) <= total + 0.5
    assert [float(r["gpu_hours"]) for r in rows] == sorted((float(r["gpu_hours"]) for r in rows), reverse=True)
    names = {r["partner"] for r in rows}
    confidential = {r["partner_name"] for r in q(demo_centre, "select partner_name from marts.dim_partner where is_confidential")}
    assert not names & confidential


def test_every_file_is_in_the_ingest_audit(demo_centre):
    rows = q(demo_centre, examples()["files_ingested_per_source"])
    assert sum(r["files"] for r in rows if r["status"] == "loaded") == demo_centre.manifest["totals"]["files"]


def test_contracts_closest_to_allocation_are_ranked_by_use_to_date(demo_centre):
    rows = q(demo_centre, examples()["contracts_closest_to_their_allocation"])
    pct = [float(r["used_pct_to_date"]) for r in rows]
    assert pct == sorted(pct, reverse=True) and len(rows) <= 10
    assert all(r["is_close"] == (float(r["used_pct_to_date"]) >= 80) for r in rows if r["used_pct_to_date"] is not None)


def test_job_outcomes_add_up_to_100_per_partition(demo_centre):
    rows = q(demo_centre, examples()["job_outcomes_by_partition"])
    for part in {r["partition"] for r in rows}:
        assert sum(float(r["pct"]) for r in rows if r["partition"] == part) == pytest.approx(100, abs=0.3)
