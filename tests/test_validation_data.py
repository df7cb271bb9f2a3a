"""A small, consistent warehouse for the data-quality tests, and the proof that it is clean.

Two local days in Europe/Berlin (CEST, UTC+2): D1 = 2026-10-20 is [2026-10-19 22:00Z,
2026-10-20 22:00Z), D2 = 2026-10-21 the next 24 hours. Three nodes (gpu001, gpu002 with 8 GPUs
each, cpu01), three meters, two contracts, three started jobs and one pending array:

- 1001 (mrob-ai -> C-1 cooperation): D1 07:00Z-09:00Z, 8 GPUs, 64 CPUs: 16 GPU-h, 128 core-h;
  first delivered RUNNING, then COMPLETED.
- 1002 (uni-ml -> C-2 methods_research): 2026-10-20 21:00Z-23:00Z on gpu001+gpu002, 16 GPUs,
  256 CPUs, crossing local midnight: 1 h on D1 and 1 h on D2 (16 GPU-h, 256 core-h each day).
- 1003 (uni-ml): D2 08:00Z-08:30Z on cpu01, 32 CPUs: 16 core-h. 1004_[5-9] never started.

Daily sums: D1 = 32 GPU-h (16 + 16), 384 core-h (128 + 256); D2 = 16 GPU-h, 272 core-h.
Energy: node 100 kWh a day; jobs 40 (D1: 18 + 22) and 20.4 (D2) kWh, idle 60 and 79.6 kWh;
IT meter 110 and 120 kWh, grid 143 and 150 kWh: PUE 1.3 and 1.25.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from kirz.warehouse import RAW_COLUMNS, open_warehouse

TZ = "Europe/Berlin"
D1 = date(2026, 10, 20)
D2 = date(2026, 10, 21)
CLUSTER = "kirz-leipzig"
RECEIVED = "2026-10-22 01:00:00+00"

MART_DDL = [
    "create schema if not exists marts",
    """
    create table marts.fct_job_usage (
        job_key varchar, job_id varchar, account varchar, user_pseudonym varchar, partition varchar,
        state varchar, start_at timestamptz, end_at timestamptz, elapsed_s bigint, nnodes integer,
        gpus integer, cpus integer, gpu_hours double, cpu_core_hours double, it_energy_kwh double,
        facility_energy_kwh double, co2e_kg double, contract_id varchar, partner_id varchar,
        usage_area varchar, cost_eur double
    )
    """,
    """
    create table marts.fct_usage_daily (
        day date, contract_id varchar, partner_id varchar, usage_area varchar, jobs_started bigint,
        gpu_hours double, cpu_core_hours double, it_energy_kwh double, facility_energy_kwh double,
        co2e_kg double, cost_eur double
    )
    """,
    """
    create table marts.fct_energy_daily (
        day date, grid_kwh double, it_kwh double, node_kwh double, idle_node_kwh double,
        cooling_kwh double, heat_reuse_kwh double, renewable_kwh double, pue double,
        avg_it_kw double, peak_it_kw double, dc_kwh double
    )
    """,
    """
    create table marts.fct_impact_kpis (
        period_type varchar, period varchar, usage_area varchar, kpi varchar, value double, unit varchar
    )
    """,
]


def insert(con, table: str, ingest_id: int, line_no: int, received_at: str = RECEIVED, **values) -> None:
    """One raw row: lineage plus the named columns (others null)."""
    cols = ["ingest_id", "source_file", "file_sha256", "line_no", "received_at"] + list(values)
    known = {c for c, _ in RAW_COLUMNS[table]}
    unknown = set(values) - known
    if unknown:
        raise KeyError(f"raw.{table} has no column(s) {sorted(unknown)}")
    params = [ingest_id, f"landing/{table}-{ingest_id}.txt", f"sha-{ingest_id}", line_no, received_at] + list(values.values())
    con.execute(f"insert into raw.{table} ({', '.join(cols)}) values ({', '.join('?' * len(cols))})", params)


def job(con, ingest_id: int, line_no: int, job_id: str, received_at: str = RECEIVED, **kw) -> None:
    """A Slurm allocation (or a step when ``step_id`` is given) with sensible defaults."""
    step = kw.pop("step_id", None)
    row = {
        "cluster": CLUSTER, "job_id": job_id if step is None else f"{job_id}.{step}", "job_id_raw": job_id,
        "allocation_id": job_id, "step_id": step, "is_step": step is not None, "job_name": "train",
        "user_pseudonym": "u_0123456789abcdef", "account": "uni-ml", "partition": "gpu", "qos": "normal",
        "state": "COMPLETED", "exit_code": "0:0", "nnodes": 1, "ncpus": 64, "gpus": 0, "nodes": [],
        "node_list": "None assigned",
    }
    row.update(kw)
    if "state_raw" not in row:
        row["state_raw"] = row["state"]
    insert(con, "slurm_jobs", ingest_id, line_no, received_at, **row)


def add_intermediate_models(con) -> None:
    """intermediate.int_jobs_resolved and int_job_days_accounted of the clean warehouse, as dbt
    builds them from its raw rows: 1001 in its final version (D1 07:00Z-09:00Z, 8 GPUs, 64 CPUs),
    1002 split at local midnight (1 h on D1, 1 h on D2, 16 GPUs, 256 CPUs), 1003 on D2 (0.5 h,
    32 CPUs), the array 1004_[5-9] never started; energy 18 + 22 kWh on D1, 20 + 0.4 kWh on D2."""
    con.execute("create schema if not exists intermediate")
    con.execute(
        """
        create or replace table intermediate.int_jobs_resolved as
        select * from (values
            ('kirz-leipzig:1001', '1001', 'COMPLETED', timestamptz '2026-10-20 07:00:00+00', timestamptz '2026-10-20 09:00:00+00', 8, 64, 4),
            ('kirz-leipzig:1002', '1002', 'COMPLETED', timestamptz '2026-10-20 21:00:00+00', timestamptz '2026-10-20 23:00:00+00', 16, 256, 4),
            ('kirz-leipzig:1003', '1003', 'FAILED', timestamptz '2026-10-21 08:00:00+00', timestamptz '2026-10-21 08:30:00+00', 0, 32, 4),
            ('kirz-leipzig:1004_[5-9]', '1004_[5-9]', 'PENDING', null, null, 0, 64, 4)
        ) t(job_key, job_id, state, start_at, end_at, gpus, ncpus, ingest_id)
        """
    )
    con.execute(
        """
        create or replace table intermediate.int_job_days_accounted as
        select * from (values
            ('kirz-leipzig:1001', date '2026-10-20', 7200.0, 16.0, 128.0, true, 'cooperation', 18.0, 18.0, 0.0),
            ('kirz-leipzig:1002', date '2026-10-20', 3600.0, 16.0, 256.0, true, 'methods_research', 22.0, 22.0, 0.0),
            ('kirz-leipzig:1002', date '2026-10-21', 3600.0, 16.0, 256.0, false, 'methods_research', 20.0, 20.0, 0.0),
            ('kirz-leipzig:1003', date '2026-10-21', 1800.0, 0.0, 16.0, true, 'methods_research', 0.4, 0.4, 0.0)
        ) t(job_key, day, seconds, gpu_hours, cpu_core_hours, is_start_day, usage_area, it_energy_kwh, measured_kwh,
            estimated_kwh)
        """
    )


def build_clean(path: Path) -> Path:
    with open_warehouse(path) as con:
        # inventory (ingest 1) and contracts (ingest 2)
        received = "2026-10-01 08:00:00+00"
        for no, (node, part, rack, gpus, cpus, idle, mx) in enumerate(
            [("gpu001", "gpu", "R01", 8, 128, 1200.0, 10500.0), ("gpu002", "gpu", "R01", 8, 128, 1200.0, 10500.0),
             ("cpu01", "cpu", "R07", 0, 256, 250.0, 900.0)], start=1):
            insert(con, "inventory_nodes", 1, no, received, cluster=CLUSTER, node=node, partition=part, rack=rack,
                   gpus=gpus, cpus=cpus, idle_w=idle, max_w=mx)
        for no, (meter, kind, parent) in enumerate(
            [("M-GRID", "grid_intake", None), ("M-IT", "it", "M-GRID"), ("M-COOL", "cooling", "M-GRID")], start=10):
            insert(con, "inventory_meters", 1, no, received, cluster=CLUSTER, meter_id=meter, kind=kind,
                   parent_meter_id=parent)
        insert(con, "inventory_facility", 1, 1, received, cluster=CLUSTER, floor_area_m2=1000.0, design_it_power_kw=3000.0)
        contract = dict(valid_from=date(2026, 1, 1), valid_to=date(2026, 12, 31), partner_postcode="04109",
                        partner_nuts3="DED51", partner_confidential=False, jobs_created=0, trainees=0, document="{}")
        insert(con, "contract_versions", 2, 1, received, contract_id="C-1", version_no=0,
               effective_from=date(2026, 1, 1), effective_to=date(2026, 6, 30), partner_id="P-1",
               partner_name="Muster Robotik GmbH", partner_type="sme", usage_area="cooperation",
               funders=["bund-strukturwandel"], accounts=["mrob-ai"], gpu_hours_allocated=20000.0,
               price_eur_per_gpu_hour=1.2, **contract)
        insert(con, "contract_versions", 2, 14, received, contract_id="C-1", version_no=1,
               effective_from=date(2026, 7, 1), effective_to=date(2026, 12, 31), partner_id="P-1",
               partner_name="Muster Robotik GmbH", partner_type="sme", usage_area="cooperation",
               funders=["bund-strukturwandel"], accounts=["mrob-ai", "mrob-edu"], gpu_hours_allocated=30000.0,
               price_eur_per_gpu_hour=1.2, **contract)
        insert(con, "contract_versions", 2, 30, received, contract_id="C-2", version_no=0,
               effective_from=date(2026, 1, 1), effective_to=date(2026, 12, 31), partner_id="P-2",
               partner_name="Universität Leipzig", partner_type="university", usage_area="methods_research",
               funders=["freistaat-sachsen"], accounts=["uni-ml"], gpu_hours_allocated=50000.0,
               price_eur_per_gpu_hour=0.0, **contract)

        # Slurm: 1001 first seen running (ingest 3), then the final records (ingest 4)
        job(con, 3, 2, "1001", "2026-10-20 08:00:00+00", account="mrob-ai", state="RUNNING",
            submit_at="2026-10-20 06:50:00+00", start_at="2026-10-20 07:00:00+00", end_at=None, elapsed_s=3600,
            gpus=8, nodes=["gpu001"], node_list="gpu001")
        job(con, 4, 2, "1001", account="mrob-ai", submit_at="2026-10-20 06:50:00+00",
            start_at="2026-10-20 07:00:00+00", end_at="2026-10-20 09:00:00+00", elapsed_s=7200, gpus=8,
            nodes=["gpu001"], node_list="gpu001")
        job(con, 4, 3, "1001", step_id="batch", account="mrob-ai", submit_at="2026-10-20 07:00:00+00",
            start_at="2026-10-20 07:00:00+00", end_at="2026-10-20 09:00:00+00", elapsed_s=7200, gpus=8,
            nodes=["gpu001"], node_list="gpu001")
        job(con, 4, 4, "1002", submit_at="2026-10-20 20:30:00+00", start_at="2026-10-20 21:00:00+00",
            end_at="2026-10-20 23:00:00+00", elapsed_s=7200, nnodes=2, ncpus=256, gpus=16,
            nodes=["gpu001", "gpu002"], node_list="gpu[001-002]")
        job(con, 4, 5, "1003", state="FAILED", partition="cpu", submit_at="2026-10-21 07:59:00+00",
            start_at="2026-10-21 08:00:00+00", end_at="2026-10-21 08:30:00+00", elapsed_s=1800, ncpus=32,
            nodes=["cpu01"], node_list="cpu01")
        job(con, 4, 6, "1004_[5-9]", state="PENDING", array_job_id="1004", array_task_id="[5-9]",
            submit_at="2026-10-21 09:00:00+00", start_at=None, end_at=None, elapsed_s=0)

        # power: every 60 s on both days for the three nodes (ingest 5)
        con.execute(
            f"""
            insert into raw.node_power (ingest_id, source_file, file_sha256, line_no, received_at, sample_at, node, watts)
            select 5, 'landing/power.csv', 'sha-5', row_number() over (order by n.node, t.ts) + 1,
                   timestamptz '{RECEIVED}', t.ts, n.node,
                   case when n.node like 'gpu%' then 1200 + (epoch(t.ts)::bigint // 60 % 100) * 10 else 300 end
            from (select unnest(generate_series(timestamptz '2026-10-19 22:00:00+00',
                                                timestamptz '2026-10-21 21:59:00+00', interval 1 minute)) as ts) t
            cross join (values ('gpu001'), ('gpu002'), ('cpu01')) n(node)
            """
        )
        # meters: every 15 min from an hour before D1 to the end of D2 (ingest 6)
        con.execute(
            f"""
            insert into raw.meter_readings (ingest_id, source_file, file_sha256, line_no, received_at, reading_at, meter_id, kwh)
            select 6, 'landing/meters.csv', 'sha-6', row_number() over (order by m.meter_id, t.k) + 1,
                   timestamptz '{RECEIVED}', timestamptz '2026-10-19 21:00:00+00' + t.k * interval 15 minute,
                   m.meter_id, m.base + t.k * m.step
            from (select unnest(range(0, 196)) as k) t
            cross join (values ('M-GRID', 50000.0, 1.5), ('M-IT', 40000.0, 1.2), ('M-COOL', 5000.0, 0.25)) m(meter_id, base, step)
            """
        )
        con.execute(
            "insert into audit.ingests select i, 'x', 'fmt', 'landing/f' || i, 'sha-' || i, 1, "
            "timestamptz '2026-10-22 01:00:00+00', 'loaded', 1, 1, 0, 0.1, null from range(1, 7) r(i)"
        )

        for stmt in MART_DDL:
            con.execute(stmt)
        con.execute(
            """
            insert into marts.fct_job_usage values
            ('kirz-leipzig:1001', '1001', 'mrob-ai', 'u_0123456789abcdef', 'gpu', 'COMPLETED',
             '2026-10-20 07:00:00+00', '2026-10-20 09:00:00+00', 7200, 1, 8, 64, 16, 128, 18, 23.4, 6.3,
             'C-1', 'P-1', 'cooperation', 19.2),
            ('kirz-leipzig:1002', '1002', 'uni-ml', 'u_0123456789abcdef', 'gpu', 'COMPLETED',
             '2026-10-20 21:00:00+00', '2026-10-20 23:00:00+00', 7200, 2, 16, 256, 32, 512, 42, 53.6, 14.7,
             'C-2', 'P-2', 'methods_research', 0),
            ('kirz-leipzig:1003', '1003', 'uni-ml', 'u_0123456789abcdef', 'cpu', 'FAILED',
             '2026-10-21 08:00:00+00', '2026-10-21 08:30:00+00', 1800, 1, 0, 32, 0, 16, 0.4, 0.5, 0.14,
             'C-2', 'P-2', 'methods_research', 0)
            """
        )
        con.execute(
            """
            insert into marts.fct_usage_daily values
            ('2026-10-20', 'C-1', 'P-1', 'cooperation', 1, 16, 128, 18, 23.4, 6.3, 19.2),
            ('2026-10-20', 'C-2', 'P-2', 'methods_research', 1, 16, 256, 22, 28.6, 7.7, 0),
            ('2026-10-21', 'C-2', 'P-2', 'methods_research', 1, 16, 272, 20.4, 25.5, 7.14, 0)
            """
        )
        con.execute(
            """
            insert into marts.fct_energy_daily values
            ('2026-10-20', 143, 110, 100, 60, 25, 0, 50, 1.3, 110 / 24.0, 6.0, 143),
            ('2026-10-21', 150, 120, 100, 79.6, 25, 0, 60, 1.25, 5.0, 7.0, 150)
            """
        )
        con.execute(
            """
            insert into marts.fct_impact_kpis values
            ('month', '2026-10', 'all', 'gpu_hours', 48, 'h'),
            ('month', '2026-10', 'cooperation', 'gpu_hours', 16, 'h'),
            ('month', '2026-10', 'all', 'pue', 1.27, 'ratio'),
            ('month', '2026-10', 'all', 'renewable_share_pct', 38.5, '%'),
            ('quarter', '2026-Q4', 'all', 'gpu_utilization_pct', 6.25, '%'),
            ('year', '2026', 'all', 'erf', 0.0, 'ratio')
            """
        )
        add_intermediate_models(con)
    return path


@pytest.fixture(scope="session")
def clean_warehouse(tmp_path_factory) -> Path:
    return build_clean(tmp_path_factory.mktemp("dq-clean") / "kirz.duckdb")


@pytest.fixture
def warehouse(clean_warehouse, tmp_path) -> Path:
    """A private copy of the clean warehouse, free to spoil."""
    path = tmp_path / "kirz.duckdb"
    shutil.copy(clean_warehouse, path)
    return path


def check(path: Path, suite: str, days=(D1,)) -> list[dict]:
    """Run one suite on a copy of the warehouse for the given local days; nothing is stored."""
    from kirz.validation import FrameScope, run_suite, suite_module

    mod = suite_module(suite)
    with open_warehouse(path) as con:
        scope = FrameScope(tz=TZ, days=tuple(days) if mod.GRAIN else (), design_it_power_kw=3000.0)
        return run_suite(con, mod, scope, batch="test")


def failed(rows: list[dict]) -> set[str]:
    return {r["expectation"] for r in rows if not r["success"]}


def examples(rows: list[dict], expectation: str) -> list[dict]:
    import json

    out = []
    for r in rows:
        if r["expectation"] == expectation and not r["success"]:
            out.extend(json.loads(r["unexpected_examples"]))
    return out


def test_clean_warehouse_passes_every_suite_of_both_layers(warehouse, tmp_path):
    from kirz.config import load_settings
    from kirz.validation import suite_modules, validate

    settings = load_settings(env={}, home=tmp_path / "home", warehouse=warehouse, pseudonym_key="k")
    run = validate(settings, since=D1, until=D2)
    assert [r for r in run.results if not r["success"]] == []
    assert run.status == "passed" and run.critical == 0 and run.warnings == 0
    raw, marts = run.parts
    # raw: 39 whole-table checks (14 contract + 4 facility + 4 meter + 10 node + 3 certificate
    # + 4 meter-value expectations) and 35 expectations per day (12 jobs + 8 power + 7 meters
    # + 8 GPU samples) on two days
    assert (raw.layer, raw.expectations, raw.suites) == ("raw", 39 + 2 * 35, 10)
    # marts: 31 expectations per day (6 + 11 + 9 + 5) on two days, and 9 KPI expectations on
    # each of the three KPI periods overlapping the days (2026-10, 2026-Q4, 2026)
    assert (marts.layer, marts.expectations, marts.suites) == ("marts", 2 * 31 + 3 * 9, 5)
    assert run.passed == 198
    assert {m.SUITE for m in suite_modules()} == {r["suite"] for r in run.results}
