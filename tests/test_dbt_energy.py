"""Energy attribution in dbt, checked against figures worked out by hand.

The scenario (UTC; local time Europe/Berlin = UTC+1 in January, so 23:00 UTC is local midnight
between 14 and 15 January) runs from T0 = 2026-01-14 22:56:00 UTC; minute k is [T0+k min, T0+(k+1) min).

gpu001 (8 GPUs, idle 1200 W, max 10500 W), samples every 30 s, typical interval 30 s:
  +0 1000 W, +30 1000 W then re-delivered as 1500 W (latest wins), +60 2000 W (next at +120:
  gap 60 s > 1.5 intervals, interpolated), +120/+150 3000 W, +180/+210 4000 W (next at +450:
  gap 240 s > 5 intervals, so +210 holds 150 s, interpolated, and +360..+450 is missing),
  +450 7000 W, +480/+510 8000 W, +540/+570 9000 W (the last sample holds 5 intervals, interpolated).
  Minute energy (kJ): m0 75, m1 120 (i), m2 180, m3 240 (120 i), m4 240 (i), m5 240 (i),
  m6 0, m7 210 (30 s covered), m8 480, m9 540 (270 i), m10 540 (i), m11 540 (i); total 3405.
cpu01 (CPU-only, 256 cores, idle 250 W, max 900 W), samples at +15, +45, ... +585:
  600 W up to +165, 800 W from +195. Holds cross minute boundaries, e.g. m3 = 15 s x 600 W +
  45 s x 800 W = 45 kJ. m0 27 (45 s covered), m1 36, m2 36, m3 45, m4..m11 48, m12 12; total 540.
Jobs: 101 on gpu001, 4 GPUs, [T0, T0+300 s); 102 on gpu001, 2 GPUs, [T0+140 s, T0+480 s)
(starts mid-minute, shares gpu001 with 101); 103 on cpu01, 64 CPUs, [T0+40 s, T0+370 s);
104 never started.
Shares on gpu001: m2 101 gets 4x60/(4x60+2x40) = 3/4, m3 and m4 2/3.
Estimates (busy time without samples): gpu001 for job 102 at 1200 + 9300 x (2/8) x 0.8 = 3060 W:
m6 60 s = 183.6 kJ, m7 30 s = 91.8 kJ; cpu01 m0 for job 103 at 250 + 650 x (64/256) x 0.8 = 380 W
over 20 s x (1 - 45/60) = 5 s = 1.9 kJ.
Meters: M-IT 250 kWh each day; M-GRID 350 kWh on 14 Jan (a duplicate row, and a corrected
re-delivery of the midnight reading: 5360 -> 5350) and 300 kWh on 15 Jan (a counter reset:
5450 -> 20 counts 20); M-COOL one reading interval over both days (30 + 30); M-HEAT rolls over
999,999.9 -> 12.3 (12.4 kWh).
"""

from __future__ import annotations

import math
import os
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
from dbt.cli.main import dbtRunner

from kirz.warehouse import RAW_COLUMNS, open_warehouse

ROOT = Path(__file__).resolve().parents[1]
DBT_DIR = ROOT / "dbt_project"
UTC = timezone.utc
T0 = datetime(2026, 1, 14, 22, 56, tzinfo=UTC)
KJ = 1000.0
KWH = 3_600_000.0
DAY14 = "2026-01-14"
DAY15 = "2026-01-15"

ENERGY_MODELS = "+fct_energy_daily +int_job_energy_daily +int_node_minute_occupancy"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class RawWriter:
    """Appends hand-made rows to raw tables, one ingest (file) per call, with lineage."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def add(self, table: str, rows: list[dict], received_at: datetime) -> int:
        ingest_id = self.con.execute("select nextval('audit.ingest_seq')").fetchone()[0]
        name = f"{table}-{ingest_id}.csv"
        self.con.execute(
            "insert into audit.ingests (ingest_id, source, format, source_file, file_sha256, received_at,"
            " status, rows_read, rows_loaded, rows_quarantined) values (?, ?, 'test', ?, ?, ?, 'loaded', ?, ?, 0)",
            [ingest_id, table, name, f"sha-{ingest_id}", received_at, len(rows), len(rows)],
        )
        cols = [c for c, _ in RAW_COLUMNS[table]]
        lineage = ["ingest_id", "source_file", "file_sha256", "line_no", "received_at"]
        placeholders = ", ".join("?" for _ in lineage + cols)
        self.con.executemany(
            f"insert into raw.{table} ({', '.join(lineage + cols)}) values ({placeholders})",
            [
                [ingest_id, name, f"sha-{ingest_id}", i + 2, received_at] + [row.get(c) for c in cols]
                for i, row in enumerate(rows)
            ],
        )
        return ingest_id


def job(job_id: str, node: str | None, gpus: int, ncpus: int, start: float | None, end: float | None,
        state: str = "COMPLETED", is_step: bool = False, step: str | None = None) -> dict:
    return {
        "cluster": "kirz",
        "job_id": job_id if not step else f"{job_id}.{step}",
        "job_id_raw": job_id,
        "allocation_id": job_id,
        "step_id": step,
        "is_step": is_step,
        "account": "acct",
        "user_pseudonym": "u1",
        "partition": "gpu" if node and node.startswith("gpu") else "cpu",
        "state": state,
        "state_raw": state,
        "submit_at": T0 - timedelta(hours=1),
        "start_at": at(start) if start is not None else None,
        "end_at": at(end) if end is not None else None,
        "elapsed_s": int(end - start) if start is not None and end is not None else 0,
        "nnodes": 1,
        "ncpus": ncpus,
        "gpus": gpus,
        "node_list": node,
        "nodes": [node] if node else None,
    }


GPU_SAMPLES = [(0, 1000), (30, 1000), (60, 2000), (120, 3000), (150, 3000), (180, 4000), (210, 4000),
               (450, 7000), (480, 8000), (510, 8000), (540, 9000), (570, 9000)]
CPU_SAMPLES = [(s, 600 if s < 195 else 800) for s in range(15, 600, 30)]


def power_rows(node: str, samples) -> list[dict]:
    return [{"sample_at": at(s), "node": node, "watts": float(w)} for s, w in samples]


def reading(meter: str, when: str, kwh: float) -> dict:
    return {"reading_at": utc(when), "meter_id": meter, "kwh": kwh}


def build_raw(con: duckdb.DuckDBPyConnection) -> RawWriter:
    w = RawWriter(con)
    day0 = utc("2026-01-16 06:00:00")
    w.add("inventory_nodes", [
        {"cluster": "kirz", "node": "gpu001", "partition": "gpu", "rack": "R01", "gpus": 8, "cpus": 128,
         "idle_w": 1200.0, "max_w": 10500.0},
        {"cluster": "kirz", "node": "cpu01", "partition": "cpu", "rack": "R07", "gpus": 0, "cpus": 256,
         "idle_w": 250.0, "max_w": 900.0},
    ], day0)
    w.add("inventory_meters", [
        {"cluster": "kirz", "meter_id": "M-GRID", "kind": "grid_intake", "parent_meter_id": None},
        {"cluster": "kirz", "meter_id": "M-IT", "kind": "it", "parent_meter_id": "M-GRID"},
        {"cluster": "kirz", "meter_id": "M-COOL", "kind": "cooling", "parent_meter_id": "M-GRID"},
        {"cluster": "kirz", "meter_id": "M-HEAT", "kind": "heat_reuse", "parent_meter_id": None},
    ], day0)
    w.add("inventory_facility", [{"cluster": "kirz", "floor_area_m2": 1000.0, "design_it_power_kw": 3000.0}], day0)
    w.add("slurm_jobs", [
        job("101", "gpu001", 4, 32, 0, 300),
        job("101", "gpu001", 4, 32, 0, 300, is_step=True, step="batch"),
        job("102", "gpu001", 2, 16, 140, 480),
        job("103", "cpu01", 0, 64, 40, 370),
        job("104", None, 8, 64, None, None, state="PENDING"),
    ], day0)
    w.add("node_power", power_rows("gpu001", GPU_SAMPLES) + power_rows("cpu01", CPU_SAMPLES), day0)
    w.add("node_power", power_rows("gpu001", [(30, 1500)]), day0 + timedelta(hours=1))
    w.add("meter_readings", [
        reading("M-IT", "2026-01-13 23:00:00", 1000.0),
        reading("M-IT", "2026-01-14 11:00:00", 1100.0),
        reading("M-IT", "2026-01-14 23:00:00", 1250.0),
        reading("M-IT", "2026-01-15 11:00:00", 1400.0),
        reading("M-IT", "2026-01-15 23:00:00", 1500.0),
        reading("M-GRID", "2026-01-13 23:00:00", 5000.0),
        reading("M-GRID", "2026-01-14 11:00:00", 5180.0),
        reading("M-GRID", "2026-01-14 11:00:00", 5180.0),
        reading("M-GRID", "2026-01-14 23:00:00", 5360.0),
        reading("M-GRID", "2026-01-15 05:00:00", 5450.0),
        reading("M-GRID", "2026-01-15 11:00:00", 20.0),
        reading("M-GRID", "2026-01-15 23:00:00", 200.0),
        reading("M-COOL", "2026-01-13 23:00:00", 100.0),
        reading("M-COOL", "2026-01-15 23:00:00", 160.0),
        reading("M-HEAT", "2026-01-13 23:00:00", 999990.0),
        reading("M-HEAT", "2026-01-14 23:00:00", 999999.9),
        reading("M-HEAT", "2026-01-15 23:00:00", 12.3),
    ], day0)
    w.add("meter_readings", [reading("M-GRID", "2026-01-14 23:00:00", 5350.0)], day0 + timedelta(hours=2))
    return w


def release_duckdb() -> None:
    """Close the database dbt-duckdb keeps open in this process, so the file can be reopened."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
            DuckDBConnectionManager._ENV = None


def run_dbt(warehouse: Path, work: Path, *args: str, check: bool = True) -> list:
    """One dbt invocation on `warehouse`; returns the node results (with `check`, failing with their messages)."""
    env = {"KIRZ_WAREHOUSE": str(warehouse), "KIRZ_TIMEZONE": "Europe/Berlin",
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        res = dbtRunner().invoke([
            *args, "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
            "--target-path", str(work / "target"), "--log-path", str(work / "logs"), "--quiet",
        ])
    finally:
        release_duckdb()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    results = list(res.result) if res.result is not None and hasattr(res.result, "__iter__") else []
    bad = [f"{r.node.name}: {r.status} {r.message}" for r in results
           if str(r.status).lower() not in ("success", "pass")]
    if check:
        assert res.success and not bad, f"dbt {' '.join(args)} failed: {res.exception} {bad}"
    return results


@pytest.fixture(scope="module")
def built_run(tmp_path_factory) -> tuple[Path, list[str]]:
    """The scenario built once by `dbt build` (models, data tests, unit tests); the names it ran."""
    work = tmp_path_factory.mktemp("energy")
    warehouse = work / "warehouse.duckdb"
    with open_warehouse(warehouse) as con:
        build_raw(con)
    results = run_dbt(warehouse, work, "build", "--select", ENERGY_MODELS, "--indirect-selection", "cautious")
    return warehouse, [r.node.name for r in results]


@pytest.fixture(scope="module")
def built(built_run) -> Path:
    return built_run[0]


def test_build_ran_the_energy_checks(built_run):
    names = set(built_run[1])
    assert {"energy_conservation_node_minute", "energy_conservation_daily", "energy_job_within_interval",
            "energy_node_within_it_meter", "energy_node_within_it_meter_partial"} <= names
    assert {"int_node_minute_energy_holds_until_next_sample_up_to_five_intervals",
            "int_node_minute_energy_splits_holds_at_minute_boundaries",
            "int_node_minute_occupancy_is_the_union_of_job_intervals",
            "int_job_node_minute_energy_splits_by_gpu_seconds_and_estimates_gaps",
            "int_meter_deltas_reset_rollover_and_duplicates",
            "fct_energy_daily_pue_measured_partial_and_carried"} <= names


def query(warehouse: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def job_days(warehouse: Path) -> dict[tuple[str, str], dict]:
    rows = query(warehouse, """
        select job_key, cast(day as varchar), measured_kwh, interpolated_kwh, estimated_kwh,
               it_energy_kwh, coverage
        from intermediate.int_job_energy_daily order by all""")
    return {(r[0], r[1]): dict(zip(["measured", "interpolated", "estimated", "total", "coverage"], r[2:]))
            for r in rows}


def approx(x: float) -> object:
    return pytest.approx(x, rel=1e-9, abs=1e-12)


def test_node_minute_energy_holds_gaps_and_minute_splits(built):
    rows = query(built, """
        select node, cast(epoch(minute_at - timestamptz '2026-01-14 22:56:00+00') / 60 as integer),
               energy_j, measured_j, interpolated_j, covered_s
        from intermediate.int_node_minute_energy order by 1, 2""")
    got = {(n, m): (e, me, ie, c) for n, m, e, me, ie, c in rows}
    gpu = {0: (75, 75, 0, 60), 1: (120, 0, 120, 60), 2: (180, 180, 0, 60), 3: (240, 120, 120, 60),
           4: (240, 0, 240, 60), 5: (240, 0, 240, 60), 7: (210, 210, 0, 30), 8: (480, 480, 0, 60),
           9: (540, 270, 270, 60), 10: (540, 0, 540, 60), 11: (540, 0, 540, 60)}
    cpu = {0: (27, 27, 0, 45), 1: (36, 36, 0, 60), 2: (36, 36, 0, 60), 3: (45, 45, 0, 60),
           **{m: (48, 48, 0, 60) for m in range(4, 9)}, 9: (48, 36, 12, 60), 10: (48, 0, 48, 60),
           11: (48, 0, 48, 60), 12: (12, 0, 12, 15)}
    expected = {("gpu001", m): v for m, v in gpu.items()} | {("cpu01", m): v for m, v in cpu.items()}
    assert set(got) == set(expected)  # gpu001 minute 6 lies wholly in the gap: no row
    for key, (e, me, ie, c) in expected.items():
        assert got[key] == (approx(e * KJ), approx(me * KJ), approx(ie * KJ), approx(c)), key


def test_job_energy_per_day_by_quality(built):
    got = job_days(built)
    expected = {
        ("kirz:101", DAY14): (290, 200, 0, 1.0),
        ("kirz:101", DAY15): (0, 160, 0, 1.0),
        ("kirz:102", DAY14): (85, 40, 0, 1.0),
        ("kirz:102", DAY15): (210, 320, 275.4, 150 / 240),
        ("kirz:103", DAY14): (126, 0, 1.9, 195 / 200),
        ("kirz:103", DAY15): (104, 0, 0, 1.0),
    }
    assert set(got) == set(expected)  # the pending job 104 and the step of 101 add nothing
    for key, (m, i, e, cov) in expected.items():
        row = got[key]
        assert row["measured"] == approx(m * KJ / KWH), key
        assert row["interpolated"] == approx(i * KJ / KWH), key
        assert row["estimated"] == approx(e * KJ / KWH), key
        assert row["total"] == approx((m + i + e) * KJ / KWH), key
        assert row["coverage"] == approx(cov), key


def test_job_node_allocations_and_occupancy(built):
    alloc = query(built, """
        select job_key, node, gpus_on_node, cpus_on_node, weight_unit
        from intermediate.int_job_node_allocations order by 1""")
    assert alloc == [("kirz:101", "gpu001", 4.0, 32.0, "gpu"), ("kirz:102", "gpu001", 2.0, 16.0, "gpu"),
                     ("kirz:103", "cpu01", 0.0, 64.0, "cpu")]
    occ = dict(query(built, """
        select node || ' ' || strftime(minute_at, '%H:%M'), occupied_s
        from intermediate.int_node_minute_occupancy"""))
    # gpu001: 101 and 102 overlap in 22:58-23:01, counted once; cpu01: 103 from +40 s to +370 s
    assert {k: v for k, v in occ.items() if k.startswith("gpu001")} == {
        f"gpu001 {h}": 60.0 for h in ["22:56", "22:57", "22:58", "22:59", "23:00", "23:01", "23:02", "23:03"]}
    assert {k: v for k, v in occ.items() if k.startswith("cpu01")} == {
        "cpu01 22:56": 20.0, "cpu01 22:57": 60.0, "cpu01 22:58": 60.0, "cpu01 22:59": 60.0,
        "cpu01 23:00": 60.0, "cpu01 23:01": 60.0, "cpu01 23:02": 10.0}


def test_node_daily_energy_and_idle(built):
    rows = query(built, """
        select node, cast(day as varchar), node_kwh, idle_kwh
        from intermediate.int_node_energy_daily order by 1, 2""")
    expected = [("cpu01", DAY14, 144, 18), ("cpu01", DAY15, 396, 292),
                ("gpu001", DAY14, 615, 0), ("gpu001", DAY15, 2790, 2100)]
    assert [(n, d) for n, d, *_ in rows] == [(n, d) for n, d, *_ in expected]
    for (_, _, e, idle), (_, _, ge, gidle) in zip(expected, rows):
        assert ge == approx(e * KJ / KWH)
        assert gidle == approx(idle * KJ / KWH)


def test_meter_deltas_reset_rollover_duplicates(built):
    rows = query(built, """
        select meter_id, strftime(reading_at, '%d %H:%M'), delta_kind, delta_kwh
        from intermediate.int_meter_deltas where meter_id in ('M-GRID', 'M-HEAT') order by 1, 2""")
    assert [(m, t, k) for m, t, k, _ in rows] == [
        ("M-GRID", "14 11:00", "normal"), ("M-GRID", "14 23:00", "normal"), ("M-GRID", "15 05:00", "normal"),
        ("M-GRID", "15 11:00", "reset"), ("M-GRID", "15 23:00", "normal"),
        ("M-HEAT", "14 23:00", "normal"), ("M-HEAT", "15 23:00", "rollover")]
    assert [d for *_, d in rows] == [approx(180), approx(170), approx(100), approx(20), approx(180),
                                     pytest.approx(9.9, rel=1e-9), pytest.approx(12.4, rel=1e-9)]


def test_energy_daily_mart(built):
    rows = query(built, """
        select cast(day as varchar), grid_kwh, it_kwh, node_kwh, idle_node_kwh, cooling_kwh, heat_reuse_kwh,
               renewable_kwh, other_kwh, pue, is_pue_estimated, avg_it_kw, peak_it_kw, it_load_source,
               energy_coverage, job_estimated_kwh, meter_resets, meter_rollovers
        from marts.fct_energy_daily order by day""")
    cols = ["day", "grid", "it", "node", "idle", "cool", "heat", "renew", "other", "pue", "est", "avg_kw",
            "peak_kw", "source", "coverage", "job_est", "resets", "rollovers"]
    d14, d15 = (dict(zip(cols, r)) for r in rows)
    assert len(rows) == 2 and d14["day"] == DAY14 and d15["day"] == DAY15
    assert (d14["grid"], d14["it"], d14["pue"]) == (approx(350), approx(250), approx(1.4))
    assert (d15["grid"], d15["it"], d15["pue"]) == (approx(300), approx(250), approx(1.2))
    assert d14["est"] is False and d15["est"] is False
    assert d14["node"] == approx(759 * KJ / KWH) and d15["node"] == approx(3186 * KJ / KWH)
    assert d14["idle"] == approx(18 * KJ / KWH) and d15["idle"] == approx(2392 * KJ / KWH)
    assert (d14["cool"], d15["cool"]) == (approx(30), approx(30))
    assert d14["heat"] == pytest.approx(9.9, rel=1e-9) and d15["heat"] == pytest.approx(12.4, rel=1e-9)
    assert d14["renew"] is None and d14["other"] is None
    assert d14["avg_kw"] == approx(250 / 24) and d14["peak_kw"] == approx(150 / 12)
    assert d15["peak_kw"] == approx(150 / 12) and d14["source"] == "meter"
    assert d14["coverage"] == approx(535 / 540) and d15["coverage"] == approx(340 / 430)
    assert d14["job_est"] == approx(1.9 * KJ / KWH) and d15["job_est"] == approx(275.4 * KJ / KWH)
    assert (d14["resets"], d15["resets"], d15["rollovers"]) == (0, 1, 1)


def test_conservation_in_total(built):
    (node_j, idle_j, job_j), = query(built, """
        select (select sum(energy_j) from intermediate.int_node_minute_energy),
               (select sum(idle_kwh) * 3600000 from intermediate.int_node_energy_daily),
               (select sum(sampled_j) from intermediate.int_job_node_minute_energy)""")
    assert node_j == approx(3945 * KJ)
    assert job_j + idle_j == pytest.approx(node_j, rel=1e-12)
    assert idle_j == approx(2410 * KJ)
