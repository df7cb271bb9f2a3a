"""Late data: an incremental build must give the same marts as a full refresh on the same inputs.

Warehouse A is built from the scenario of test_transform, then receives late data:
  - job 202 finishes (a new Slurm record: COMPLETED at 15:00 instead of running until 11:00);
  - a corrected meter export: the grid register again, at 33 kWh/h during local 26 October
    (PUE 1.65 that day) instead of 30;
  - a back-dated contract amendment: C-COOP is re-delivered with its amendment effective
    2026-06-30 instead of 2026-07-01 (job 101, June, is now covered), and a new contract C-NEW
    (startup in the Altenburger Land, Revier) takes account 'nobody' from 2026-10-01.
A is rebuilt incrementally; a copy of A is rebuilt with --full-refresh; every mart must match.
"""

from __future__ import annotations

import shutil
from dataclasses import replace

import duckdb
import pytest

from kirz.config import Settings
from kirz.transform import transform
from kirz.warehouse import open_warehouse
from test_transform import (
    JOB_202_DONE,
    P_SME,
    RawWriter,
    build_raw,
    contract_versions,
    meter_rows,
    ts,
)

P_NEW = {"id": "P-NEW", "name": "Altenburg AI UG", "type": "startup", "postcode": "04600", "nuts3": "DEG0M"}


def corrected_grid_rows() -> list[dict]:
    """The whole M-GRID series again, corrected: 33 kWh/h during local 26 October.

    Hours from local 24 October 00:00: 24 Oct is hours 0-24, 25 Oct (25 hours) 24-49,
    26 Oct 49-73.
    """
    rows = []
    for r in meter_rows({"M-GRID": 30.0}):
        h = round((r["reading_at"] - ts("2026-10-23 22:00:00")).total_seconds() / 3600)
        kwh = 100000.0 + 30.0 * min(h, 49) + 33.0 * max(h - 49, 0)
        rows.append(dict(r, kwh=kwh))
    return rows


def late_data(con: duckdb.DuckDBPyConnection) -> None:
    w = RawWriter(con)
    late = ts("2026-11-02 06:00:00")
    w.add("slurm_jobs", [JOB_202_DONE], "slurm", received_at=late)
    w.add("meter_readings", corrected_grid_rows(), "meters", received_at=late)
    coop = contract_versions(
        "C-COOP", P_SME, "cooperation", ["mrob-ai"], "2026-01-01", "2026-12-31", 20000, 1.20, jobs_created=3,
        amendments=[{"effective_from": "2026-06-30", "gpu_hours_allocated": 30000, "accounts": ["mrob-ai", "mrob-edu"]}],
    )
    w.add("contract_versions", coop, "contracts", received_at=late)
    new = contract_versions("C-NEW", P_NEW, "cooperation", ["nobody"], "2026-10-01", "2026-12-31", 500, 1.00, jobs_created=2)
    w.add("contract_versions", new, "contracts", received_at=late)


def mart_tables(con) -> list[str]:
    return [r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
    ).fetchall()]


def rounded_select(con, schema: str, table: str, db: str | None = None) -> str:
    """All columns of a table, doubles rounded to 9 decimals (sums may differ in the last bits)."""
    cols = con.execute(
        """
        select column_name, data_type from information_schema.columns
        where table_schema = ? and table_name = ? and table_catalog = current_database()
        order by ordinal_position
        """,
        [schema, table],
    ).fetchall()
    exprs = [f"round({c}, 9) as {c}" if t in ("DOUBLE", "FLOAT") else c for c, t in cols]
    prefix = f"{db}." if db else ""
    return f"select {', '.join(exprs)} from {prefix}{schema}.{table}"


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    home_a = tmp_path_factory.mktemp("kirz-incremental")
    settings_a = Settings(home=home_a, timezone="Europe/Berlin")
    with open_warehouse(settings_a.warehouse_path) as con:
        build_raw(con)
    first = transform(settings_a)
    assert first.ok, first.message
    with open_warehouse(settings_a.warehouse_path) as con:
        before = {
            r[0]: r[1:] for r in con.execute(
                "select job_id, gpu_hours, usage_area, contract_id from marts.fct_job_usage"
            ).fetchall()
        }
        # marker outside every recomputed day: a column no mart reads
        con.execute(
            "update intermediate.int_job_days_accounted set grid_g_co2e_per_kwh = -1"
        )
        late_data(con)
    incremental = transform(settings_a)

    home_b = tmp_path_factory.mktemp("kirz-full-refresh")
    settings_b = replace(settings_a, home=home_b)
    settings_b.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(settings_a.warehouse_path, settings_b.warehouse_path)
    full = transform(settings_b, full_refresh=True)

    con = duckdb.connect(str(settings_a.warehouse_path), read_only=True)
    con.execute("set TimeZone = 'UTC'")
    con.execute(f"attach '{settings_b.warehouse_path}' as full_db (read_only)")
    yield {"before": before, "incremental": incremental, "full": full, "con": con}
    con.close()


def test_both_builds_pass(builds):
    assert builds["incremental"].ok, builds["incremental"].message
    assert builds["full"].ok, builds["full"].message


def test_incremental_marts_equal_full_refresh(builds):
    con = builds["con"]
    tables = mart_tables(con)
    assert {"fct_job_usage", "fct_usage_daily", "fct_contract_utilization", "fct_impact_kpis",
            "dim_contract", "dim_partner"} <= set(tables)
    for table in tables:
        inc = rounded_select(con, "marts", table)
        full = rounded_select(con, "marts", table, db="full_db")
        n_inc = con.execute(f"select count(*) from marts.{table}").fetchall()[0][0]
        n_full = con.execute(f"select count(*) from full_db.marts.{table}").fetchall()[0][0]
        only_inc = con.execute(f"select * from ({inc} except all {full})").fetchall()
        only_full = con.execute(f"select * from ({full} except all {inc})").fetchall()
        assert (table, n_inc, only_inc, only_full) == (table, n_full, [], [])


def test_late_data_changed_the_marts(builds):
    con = builds["con"]
    before = builds["before"]
    after = {
        r[0]: r[1:] for r in con.execute(
            "select job_id, gpu_hours, usage_area, contract_id from marts.fct_job_usage"
        ).fetchall()
    }
    assert before["202"][0] == 4.0 and after["202"][0] == 12.0
    assert before["101"][1:] == ("unassigned", None)
    assert after["101"][1:] == ("cooperation", "C-COOP")
    assert before["205"][1:] == ("unassigned", None)
    assert after["205"][1:] == ("cooperation", "C-NEW")
    (row,) = con.execute(
        "select is_running, end_at from marts.fct_job_usage where job_id = '202'"
    ).fetchall()
    assert row == (False, ts("2026-10-26 15:00:00"))
    # June 30 now belongs to C-COOP in the daily mart, and the unassigned group is gone
    rows = con.execute(
        "select coalesce(contract_id, '-'), usage_area, gpu_hours from marts.fct_usage_daily "
        "where day = date '2026-06-30'"
    ).fetchall()
    assert rows == [("C-COOP", "cooperation", 16.0)]
    # the corrected meter: PUE 1.65 on 26 October; job 203 (12 kWh IT that day) follows it
    (pue,) = con.execute("select pue from marts.fct_energy_daily where day = date '2026-10-26'").fetchall()[0]
    assert pue == pytest.approx(1.65)
    (facility,) = con.execute(
        "select facility_energy_kwh from marts.fct_job_usage where job_id = '203'"
    ).fetchall()[0]
    assert facility == pytest.approx(12.0 * 1.65)
    # job 205 now shares gpu002 with the finished job 202 for its hour: 2 of 3 GPUs are 202's
    (it_205,) = con.execute("select it_energy_kwh from marts.fct_job_usage where job_id = '205'").fetchall()[0]
    assert it_205 == pytest.approx(2.0)


def test_incremental_run_recomputed_only_the_late_window(builds):
    """Days before the earliest change minus the late window keep their stored rows."""
    con = builds["con"]
    rows = dict(con.execute(
        """
        select cast(day as varchar), min(grid_g_co2e_per_kwh)
        from intermediate.int_job_days_accounted group by day
        """
    ).fetchall())
    # earliest change: 30 June (contract) -> recomputed from 23 June; 15 June kept
    assert rows["2026-06-15"] == -1
    assert rows["2026-06-30"] == pytest.approx(363 * 0.85)
    assert rows["2026-10-26"] == pytest.approx(363 * 1.03)


def test_snapshot_keeps_the_amendment_history(builds):
    con = builds["con"]
    rows = con.execute(
        """
        select contract_version_key, cast(effective_from as varchar), cast(effective_to as varchar),
               dbt_valid_to is null as is_current
        from snapshots.snp_contract_versions
        where contract_id = 'C-COOP'
        order by contract_version_key, is_current
        """
    ).fetchall()
    assert rows == [
        ("C-COOP#v0", "2026-01-01", "2026-06-30", False),
        ("C-COOP#v0", "2026-01-01", "2026-06-29", True),
        ("C-COOP#v1", "2026-07-01", "2026-12-31", False),
        ("C-COOP#v1", "2026-06-30", "2026-12-31", True),
    ]
