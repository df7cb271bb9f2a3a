"""Late data in the incremental energy models, and dbt tests that catch broken invariants.

The hand-made scenario of test_dbt_energy is built, then late data arrives: power samples that
fill part of gpu001's gap and a corrected re-delivery of an old sample, a job that finished
earlier than its running record said, a new job, a corrected IT meter export and samples of a
later day; then a new inventory. After each step, the incremental build must store exactly
what a --full-refresh build stores on the same inputs. A tampered copy shows that only the
days touched are recomputed, and that the energy dbt tests fail when an invariant is broken.
"""

from __future__ import annotations

import math
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from kirz.warehouse import open_warehouse
from test_dbt_energy import (
    CPU_SAMPLES,
    ENERGY_MODELS,
    RawWriter,
    at,
    build_raw,
    job,
    power_rows,
    query,
    reading,
    run_dbt,
    utc,
)

TABLES = {
    "intermediate.int_node_minute_energy": "node, minute_at",
    "intermediate.int_job_node_minute_energy": "job_key, node, minute_at",
    "intermediate.int_job_energy_daily": "job_key, day",
    "intermediate.int_node_energy_daily": "node, day",
    "intermediate.int_node_load_daily": "day",
    "marts.fct_energy_daily": "day",
}
LATE = utc("2026-01-21 06:00:00")


def late_data(con: duckdb.DuckDBPyConnection) -> None:
    w = RawWriter(con)
    w.add("node_power", power_rows("gpu001", [(240, 5000), (270, 5000), (300, 5000), (60, 2500)]), LATE)
    w.add("slurm_jobs", [job("102", "gpu001", 2, 16, 140, 420), job("105", "cpu01", 0, 32, 400, 560)], LATE)
    w.add("meter_readings", [reading("M-IT", "2026-01-15 11:00:00", 1390.0)], LATE)
    later = [{"sample_at": utc("2026-01-20 10:00:00") + timedelta(seconds=s), "node": "cpu01", "watts": 700.0}
             for s in range(0, 300, 30)]
    w.add("node_power", later, LATE + timedelta(hours=1))


def new_inventory(con: duckdb.DuckDBPyConnection) -> None:
    RawWriter(con).add("inventory_nodes", [
        {"cluster": "kirz", "node": "gpu001", "partition": "gpu", "rack": "R01", "gpus": 8, "cpus": 128,
         "idle_w": 1200.0, "max_w": 10500.0},
        {"cluster": "kirz", "node": "cpu01", "partition": "cpu", "rack": "R07", "gpus": 0, "cpus": 256,
         "idle_w": 300.0, "max_w": 900.0},
    ], LATE + timedelta(days=1))


def snapshot(warehouse: Path) -> dict[str, list[tuple]]:
    return {t: query(warehouse, f"select * from {t} order by {key}") for t, key in TABLES.items()}


def assert_same(a: dict[str, list[tuple]], b: dict[str, list[tuple]]) -> None:
    for table in TABLES:
        assert len(a[table]) == len(b[table]), table
        for ra, rb in zip(a[table], b[table]):
            for x, y in zip(ra, rb):
                if isinstance(x, float) and isinstance(y, float):
                    assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9), (table, ra, rb)
                else:
                    assert x == y, (table, ra, rb)


def full_refresh_copy(warehouse: Path, work: Path, name: str) -> Path:
    copy = work / f"{name}.duckdb"
    shutil.copy(warehouse, copy)
    run_dbt(copy, work, "run", "--full-refresh", "--select", ENERGY_MODELS)
    return copy


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[Path, Path]:
    """The scenario, built (models only) once; tests work on copies."""
    work = tmp_path_factory.mktemp("energy_incr")
    warehouse = work / "base.duckdb"
    with open_warehouse(warehouse) as con:
        build_raw(con)
    run_dbt(warehouse, work, "run", "--select", ENERGY_MODELS)
    return warehouse, work


def fresh_copy(base: tuple[Path, Path], name: str) -> Path:
    copy = base[1] / f"{name}.duckdb"
    shutil.copy(base[0], copy)
    return copy


def test_incremental_equals_full_refresh_after_late_data(base):
    work = base[1]
    wh = fresh_copy(base, "late")
    before = snapshot(wh)
    with open_warehouse(wh) as con:
        late_data(con)
    run_dbt(wh, work, "run", "--select", ENERGY_MODELS)
    after = snapshot(wh)
    assert_same(after, snapshot(full_refresh_copy(wh, work, "late_full")))
    # the late data did change the figures: job 102 now ends at +420 s and gpu001's gap shrank
    jobs_before = {(r[1], str(r[2])): r[3] for r in before["intermediate.int_job_energy_daily"]}
    jobs_after = {(r[1], str(r[2])): r[3] for r in after["intermediate.int_job_energy_daily"]}
    assert ("kirz:105", "2026-01-15") in jobs_after and ("kirz:105", "2026-01-15") not in jobs_before
    assert jobs_after[("kirz:102", "2026-01-15")] != jobs_before[("kirz:102", "2026-01-15")]
    days_after = [str(r[0]) for r in after["marts.fct_energy_daily"]]
    assert days_after == ["2026-01-14", "2026-01-15", "2026-01-20"]
    # a second run without new deliveries changes nothing
    run_dbt(wh, work, "run", "--select", ENERGY_MODELS)
    assert_same(snapshot(wh), after)

    # a new inventory (cpu01 idles at 300 W) recomputes every day
    with open_warehouse(wh) as con:
        new_inventory(con)
    run_dbt(wh, work, "run", "--select", ENERGY_MODELS)
    assert_same(snapshot(wh), snapshot(full_refresh_copy(wh, work, "inventory_full")))
    (est,), = query(wh, """select estimated_kwh * 3600000 from intermediate.int_job_energy_daily
                           where job_key = 'kirz:103' and day = date '2026-01-14'""")
    assert est == pytest.approx((300 + 600 * 0.25 * 0.8) * 5, rel=1e-9)  # was 1900 J at 250 W idle


def test_only_the_touched_days_are_recomputed(base):
    work = base[1]
    wh = fresh_copy(base, "window")
    with duckdb.connect(str(wh)) as con:
        con.execute("update intermediate.int_node_minute_energy set energy_j = -1 where day = date '2026-01-14'")
    # samples of 30 January: the window is 29..31 January; 14 January stays as it is
    with open_warehouse(wh) as con:
        RawWriter(con).add("node_power", [{"sample_at": utc("2026-01-30 12:00:00"), "node": "cpu01", "watts": 500.0},
                                          {"sample_at": utc("2026-01-30 12:00:30"), "node": "cpu01", "watts": 500.0}], LATE)
    run_dbt(wh, work, "run", "--select", "int_node_minute_energy")
    days = dict(query(wh, """select cast(day as varchar), min(energy_j) from intermediate.int_node_minute_energy
                             group by day order by day"""))
    assert days["2026-01-14"] == -1 and days["2026-01-30"] == pytest.approx(500 * 60)
    # a sample of 14 January delivered again: the window is 13..15 January, so 14 January is recomputed
    with open_warehouse(wh) as con:
        RawWriter(con).add("node_power", power_rows("cpu01", CPU_SAMPLES[:1]), LATE + timedelta(hours=1))
    run_dbt(wh, work, "run", "--select", "int_node_minute_energy")
    (low,), = query(wh, "select min(energy_j) from intermediate.int_node_minute_energy where day = date '2026-01-14'")
    assert low == pytest.approx(27_000)  # cpu01's first minute again, no -1 left


def test_a_delivery_of_one_day_recomputes_that_day_and_its_neighbours_only(base):
    """Samples of 20 January (local) recompute 19..21 January: the 19th shares a UTC day, and
    so the typical interval, with the 20th's first hour, and its last sample's hold ends at
    the 20th's first; the 21st holds what the 20th's last sample carries across midnight.
    Nothing widens this."""
    work = base[1]
    wh = fresh_copy(base, "one-day")
    with duckdb.connect(str(wh)) as con:
        con.execute("update intermediate.int_node_minute_energy set energy_j = -1 where day = date '2026-01-15'")
    # cpu01 at 700 W from 20 January 22:58:00 UTC (23:58 local) across midnight into the 21st
    with open_warehouse(wh) as con:
        RawWriter(con).add("node_power", [
            {"sample_at": utc("2026-01-20 22:58:00") + timedelta(seconds=s), "node": "cpu01", "watts": 700.0}
            for s in range(0, 120, 30)], LATE)
    run_dbt(wh, work, "run", "--select", "int_node_minute_energy")
    recorded = query(wh, """select kind, cast(first_day as varchar), cast(last_day as varchar)
                            from audit.transform_changed_days where model = 'int_node_minute_energy'
                            order by recorded_at desc limit 1""")
    assert recorded == [("days", "2026-01-19", "2026-01-21")]
    days = dict(query(wh, """select cast(day as varchar), min(energy_j) from intermediate.int_node_minute_energy
                             group by day order by day"""))
    assert days["2026-01-15"] == -1  # outside the recomputed days: kept as stored
    # the last sample (23:59:30 local) holds 5 typical intervals of 30 s: 120 s into the 21st
    (held,), = query(wh, """select sum(energy_j) from intermediate.int_node_minute_energy
                            where node = 'cpu01' and day = date '2026-01-21'""")
    assert held == pytest.approx(700 * 120)


def test_a_job_delivered_for_one_day_recomputes_exactly_that_day(base):
    """A job's interval ends where it ends: a new job inside 20 January (local) recomputes the
    job models on 20 January only, no neighbour, and the result equals a full build."""
    work = base[1]
    wh = fresh_copy(base, "one-job-day")
    start = (utc("2026-01-20 09:00:00") - at(0)).total_seconds()  # 10:00 local
    with open_warehouse(wh) as con:
        RawWriter(con).add("slurm_jobs", [job("106", "cpu01", 0, 32, start, start + 1800)], LATE)
    run_dbt(wh, work, "run", "--select", ENERGY_MODELS)
    recorded = dict((m, (k, f, l)) for m, k, f, l in query(wh, """
        select model, kind, cast(first_day as varchar), cast(last_day as varchar)
        from audit.transform_changed_days
        where recorded_at = (select max(recorded_at) from audit.transform_changed_days t
                             where t.model = audit.transform_changed_days.model)"""))
    for model in ("int_job_node_minute_energy", "int_job_energy_daily", "int_node_energy_daily"):
        assert recorded[model] == ("days", "2026-01-20", "2026-01-20"), model
    assert recorded["int_node_minute_energy"][0] == "empty"  # no new sample
    (jobs,), = query(wh, """select count(distinct job_key) from intermediate.int_job_energy_daily
                           where day = date '2026-01-20'""")
    assert jobs == 1
    assert_same(snapshot(wh), snapshot(full_refresh_copy(wh, work, "one-job-day-full")))


def test_energy_tests_fail_on_broken_invariants(base):
    work = base[1]
    wh = fresh_copy(base, "broken")
    with duckdb.connect(str(wh)) as con:
        # a job part doubled (conservation) and a job part moved an hour past the job's end
        con.execute("""update intermediate.int_job_node_minute_energy set sampled_j = 2 * sampled_j
                       where job_key = 'kirz:101' and minute_at = timestamptz '2026-01-14 22:56:00+00'""")
        con.execute("""update intermediate.int_job_node_minute_energy set minute_at = minute_at + interval 1 hour
                       where job_key = 'kirz:103' and minute_at = timestamptz '2026-01-14 22:58:00+00'""")
        # node energy above the IT meter on a fully metered day
        con.execute("update intermediate.int_node_energy_daily set node_kwh = node_kwh + 500 where day = date '2026-01-15'")
        con.execute("create or replace table marts.fct_energy_daily as select * replace (node_kwh + 500 as node_kwh)"
                    " from marts.fct_energy_daily")
    results = run_dbt(wh, work, "test", "--select", "energy_conservation_node_minute", "energy_conservation_daily",
                      "energy_job_within_interval", "energy_node_within_it_meter", check=False)
    outcome = {r.node.name: (str(r.status).lower(), r.failures) for r in results}
    assert outcome["energy_conservation_node_minute"][0] == "fail"
    assert outcome["energy_job_within_interval"][0] == "fail"
    assert outcome["energy_node_within_it_meter"] == ("fail", 2)
    assert outcome["energy_conservation_daily"][0] == "fail"


def test_a_late_sample_reads_the_samples_held_across_the_first_midnight(base):
    """A sample of 16 January recomputes 15..17 January. gpu001's
    sample of 22:59:30 UTC (local 23:59:30 on the 14th) holds into the 15th, and its typical
    interval comes from its UTC day: both must be read for the 15th to come out as in a full build."""
    work = base[1]
    wh = fresh_copy(base, "tight")
    with open_warehouse(wh) as con:
        RawWriter(con).add("node_power", [{"sample_at": utc("2026-01-16 12:00:00"), "node": "cpu01", "watts": 400.0}],
                           LATE)
    run_dbt(wh, work, "run", "--select", ENERGY_MODELS)
    (held,), = query(wh, """select energy_j from intermediate.int_node_minute_energy
                            where node = 'gpu001' and minute_at = timestamptz '2026-01-14 23:01:00+00'""")
    assert held == pytest.approx(240_000)
    assert_same(snapshot(wh), snapshot(full_refresh_copy(wh, work, "tight_full")))


def test_incremental_builds_test_the_recomputed_days_and_full_checks_all(base):
    """An incremental build records the days it recomputed and the energy tests check those
    days only (a nightly run must not re-test a year of history); `dbt test` on its own and a
    full build check every day."""
    work = base[1]
    wh = fresh_copy(base, "changed-days")
    with duckdb.connect(str(wh)) as con:
        # an old day broken behind the models' back: only a check of every day can see it
        con.execute("""update intermediate.int_node_minute_energy set energy_j = energy_j + 1000
                       where day = date '2026-01-14' and node = 'cpu01'""")
    with open_warehouse(wh) as con:
        RawWriter(con).add("node_power", [{"sample_at": utc("2026-01-30 12:00:00"), "node": "cpu01", "watts": 500.0},
                                          {"sample_at": utc("2026-01-30 12:00:30"), "node": "cpu01", "watts": 500.0}], LATE)
    tests = ("energy_conservation_node_minute", "unique_combination_int_node_minute_energy_node__minute_at",
             "not_null_int_node_minute_energy_energy_j")
    results = run_dbt(wh, work, "build", "--select", "int_node_minute_energy", *tests, check=False)
    outcome = {r.node.name: str(r.status).lower() for r in results}
    assert {n: outcome[n] for n in ("int_node_minute_energy", *tests)} == {"int_node_minute_energy": "success",
                                                                          **{t: "pass" for t in tests}}
    assert set(outcome.values()) == {"success", "pass"}
    recorded = query(wh, """select model, kind, cast(first_day as varchar), cast(last_day as varchar)
                            from audit.transform_changed_days
                            where invocation_id = (select invocation_id from audit.transform_changed_days
                                                   order by recorded_at desc limit 1)""")
    assert recorded == [("int_node_minute_energy", "days", "2026-01-29", "2026-01-31")]

    results = run_dbt(wh, work, "test", "--select", "energy_conservation_node_minute", check=False)
    assert [(r.node.name, str(r.status).lower()) for r in results] == [("energy_conservation_node_minute", "fail")]

    # nothing new: nothing recomputed, nothing to test
    run_dbt(wh, work, "build", "--select", "int_node_minute_energy", *tests)
    (kind,), = query(wh, "select kind from audit.transform_changed_days order by recorded_at desc limit 1")
    assert kind == "empty"

    # a full build recomputes and checks every day: the broken day is rebuilt and passes
    results = run_dbt(wh, work, "build", "--full-refresh", "--select", "int_node_minute_energy", *tests, check=False)
    outcome = {r.node.name: str(r.status).lower() for r in results}
    assert set(outcome.values()) == {"success", "pass"} and set(tests) <= set(outcome)
    (kind,), = query(wh, "select kind from audit.transform_changed_days order by recorded_at desc limit 1")
    assert kind == "full"
