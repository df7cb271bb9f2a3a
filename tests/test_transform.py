"""dbt accounting end to end: hand-made raw rows -> transform() -> marts, checked by hand;
then late data, an incremental build and a full refresh that must agree.

The scenario (Europe/Berlin; installed: gpu001, gpu002 with 8 GPUs each, cpu01 without GPUs):

contracts
  C-COOP  cooperation, P-SME (sme, DED51 Leipzig: Revier), 1.20 EUR/GPU-h, 20,000 GPU-h for
          2026; amendment from 2026-07-01: 30,000 GPU-h and account mrob-edu added
  C-UNI   methods_research, P-UNI (university, DEE02 Halle: Revier), free, 2026-2027
  C-EDU   education, P-EDU (education_provider, DE300 Berlin), free, 2026-09-01..2027-02-28
  C-BIG   cooperation, P-BIG (large_enterprise, DE212 Munich), 3.00 EUR/GPU-h (above list)
  C-OPS   operations (the centre's own accounts)

jobs (all times UTC; list price 2.50 EUR/GPU-h, 0.02 EUR/core-h)
  101 mrob-edu 8 GPU 2026-06-30 20:00-23:00: starts 22:00 local on 30 June, before the
      amendment -> unassigned; 16 GPU-h on 30 June, 8 GPU-h on 1 July (local)
  102 mrob-edu 4 GPU 2026-07-01 08:00-12:00 -> C-COOP v1: 16 GPU-h, cost 19.20, value 40
  103 mrob-ai  8 GPU 2026-06-15 10:00-14:00 -> C-COOP v0: 32 GPU-h, cost 38.40, value 80
  201 uni-ml  16 GPU on gpu001+gpu002 2026-10-24 21:00 - 10-26 00:00 (across the end of
      summer time): 16 GPU-h on 24 Oct, 400 on the 25-hour 25 Oct, 16 on 26 Oct
  202 edu-course 2 GPU on gpu002, RUNNING since 2026-10-26 09:00, ElapsedRaw 7200 -> ends 11:00
  203 big-co 8 GPU on gpu001 2026-10-26 10:00-12:00: 16 GPU-h at 3.00 -> cost 48, value 40,
      no subsidy, economic use
  204 ops     32 cores on cpu01 2026-10-26 06:00-08:00: 64 core-h, operations
  205 nobody   1 GPU on gpu002 2026-10-26 12:00-13:00: unassigned
  206 uni-ml  pending, never started; 201.batch and 201.0 are steps (no usage)

power: every node sampled every 60 s from 2026-10-24 00:00 to 10-27 00:00 UTC at a constant
6000 W (gpu nodes) and 600 W (cpu01). meters: hourly cumulative registers, local 24 Oct
00:00 to 27 Oct 00:00, at 30 kWh/h grid, 20 it, 9 cooling, 3 heat reuse, 7.5 renewable
(PUE 1.5, renewable share 25 %).

GPU samples (DCGM), 2026-10-26 09:00 to 13:00 UTC every 10 minutes, all 8 GPUs of both GPU
nodes. gpu001's exporter maps GPUs to jobs: job 203 holds its 8 GPUs 10:00-12:00, labelled
hpc_job 203, at 75 %; otherwise idle at 0 %, unlabelled. gpu002's maps none: GPUs 0 and 1 at
60 % all along (job 202 runs until 15:00, as a late record shows), GPU 2 at 40 % from 12:00 to
13:00 (job 205), the rest 0 %. Each sample holds 600 s (the next one's distance). Busy GPU-hours:
  203 exact: 8 GPUs x 0.75 x 2 h = 12 of 16 GPU-h (75 %); Slurm's step 0 also says 75 %
  202 approximate, alone on gpu002 09:00-11:00: (0.6 + 0.6) x 2 h = 2.4 of 4 GPU-h (60 %)
  205 approximate, alone on gpu002 12:00-13:00 (202 seemed to end at 11:00): the node's
      (0.6 + 0.6 + 0.4) x 1 h = 1.6, capped at its 1 allocated GPU-h (100 %)
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from kirz.config import Settings
from kirz.transform import run_dbt, summarise, transform
from kirz.warehouse import RAW_COLUMNS, open_warehouse

UTC = timezone.utc
CLUSTER = "kirz-leipzig"
RECEIVED = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


def ts(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


class RawWriter:
    """Appends hand-made raw rows with lineage, one ingest (and audit row) per call."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def next_ingest_id(self) -> int:
        return self.con.execute("select nextval('audit.ingest_seq')").fetchall()[0][0]

    def add(self, table: str, rows: list[dict], source: str, received_at: datetime = RECEIVED) -> int:
        ingest_id = self.next_ingest_id()
        source_file = f"{source}-{ingest_id}.dat"
        cols = [c for c, _ in RAW_COLUMNS[table]]
        data = {
            "ingest_id": [ingest_id] * len(rows),
            "source_file": [source_file] * len(rows),
            "file_sha256": [f"sha-{ingest_id}"] * len(rows),
            "line_no": list(range(1, len(rows) + 1)),
            "received_at": [received_at] * len(rows),
        }
        for c in cols:
            data[c] = [r.get(c) for r in rows]
        arrow = pa.table(data)
        self.con.register("new_rows", arrow)
        select = ", ".join(
            f"cast({c} as {t}) as {c}"
            for c, t in [("ingest_id", "bigint"), ("source_file", "varchar"), ("file_sha256", "varchar"),
                         ("line_no", "bigint"), ("received_at", "timestamptz")] + RAW_COLUMNS[table]
        )
        self.con.execute(f"insert into raw.{table} select {select} from new_rows")
        self.con.unregister("new_rows")
        self.con.execute(
            "insert into audit.ingests values (?, ?, 'test', ?, ?, 0, ?, 'loaded', ?, ?, 0, 0, null)",
            [ingest_id, source, source_file, f"sha-{ingest_id}", received_at, len(rows), len(rows)],
        )
        return ingest_id


def job(job_id: str, account: str, user: str, partition: str, state: str, start: str | None,
        end: str | None, elapsed_s: int, gpus: int, ncpus: int, nodes: list[str], step: str | None = None,
        submit: str | None = None) -> dict:
    allocation = job_id
    return {
        "cluster": CLUSTER,
        "job_id": job_id if step is None else f"{job_id}.{step}",
        "job_id_raw": job_id if step is None else f"{job_id}.{step}",
        "allocation_id": allocation,
        "step_id": step,
        "is_step": step is not None,
        "job_name": f"job{job_id}",
        "user_pseudonym": user,
        "account": account,
        "partition": partition,
        "qos": "normal",
        "state": state,
        "state_raw": state,
        "exit_code": "0:0",
        "submit_at": ts(submit) if submit else (ts(start) - timedelta(minutes=5) if start else ts("2026-10-26 00:00:00")),
        "start_at": ts(start) if start else None,
        "end_at": ts(end) if end else None,
        "elapsed_s": elapsed_s,
        "nnodes": len(nodes) or 1,
        "ncpus": ncpus,
        "gpus": gpus,
        "alloc_tres": f"cpu={ncpus},gres/gpu={gpus}" if gpus else f"cpu={ncpus}",
        "node_list": ",".join(nodes),
        "nodes": nodes,
    }


JOBS = [
    job("101", "mrob-edu", "u-anna", "gpu", "COMPLETED", "2026-06-30 20:00:00", "2026-06-30 23:00:00", 10800, 8, 64, ["gpu001"]),
    job("102", "mrob-edu", "u-anna", "gpu", "COMPLETED", "2026-07-01 08:00:00", "2026-07-01 12:00:00", 14400, 4, 32, ["gpu001"]),
    job("103", "mrob-ai", "u-bert", "gpu", "COMPLETED", "2026-06-15 10:00:00", "2026-06-15 14:00:00", 14400, 8, 64, ["gpu002"]),
    job("201", "uni-ml", "u-carl", "gpu", "COMPLETED", "2026-10-24 21:00:00", "2026-10-26 00:00:00", 97200, 16, 256, ["gpu001", "gpu002"]),
    job("201", "uni-ml", "u-carl", "gpu", "COMPLETED", "2026-10-24 21:00:00", "2026-10-26 00:00:00", 97200, 16, 256, ["gpu001", "gpu002"], step="batch"),
    job("201", "uni-ml", "u-carl", "gpu", "COMPLETED", "2026-10-24 21:00:30", "2026-10-26 03:00:00", 108000, 16, 256, ["gpu001", "gpu002"], step="0"),
    job("202", "edu-course", "u-dora", "gpu", "RUNNING", "2026-10-26 09:00:00", None, 7200, 2, 16, ["gpu002"]),
    job("203", "big-co", "u-emil", "gpu", "COMPLETED", "2026-10-26 10:00:00", "2026-10-26 12:00:00", 7200, 8, 64, ["gpu001"]),
    dict(job("203", "big-co", "u-emil", "gpu", "COMPLETED", "2026-10-26 10:00:10", "2026-10-26 11:59:50", 7180, 8, 64,
             ["gpu001"], step="0"), gpu_util_ave_pct=75.0),
    job("204", "ops", "u-fred", "cpu", "COMPLETED", "2026-10-26 06:00:00", "2026-10-26 08:00:00", 7200, 0, 32, ["cpu01"]),
    job("205", "nobody", "u-gina", "gpu", "COMPLETED", "2026-10-26 12:00:00", "2026-10-26 13:00:00", 3600, 1, 8, ["gpu002"]),
    job("206", "uni-ml", "u-carl", "gpu", "PENDING", None, None, 0, 8, 64, [], submit="2026-10-26 14:00:00"),
]

# the late delivery: job 202 finished at 15:00
JOB_202_DONE = job("202", "edu-course", "u-dora", "gpu", "COMPLETED", "2026-10-26 09:00:00", "2026-10-26 15:00:00", 21600, 2, 16, ["gpu002"])


def contract_versions(contract_id: str, partner: dict, usage_area: str, accounts: list[str],
                      valid_from: str, valid_to: str, gpu_hours: float, price: float,
                      jobs_created: int = 0, trainees: int = 0, amendments: list[dict] = (),
                      activity: str = "non_economic") -> list[dict]:
    """The versions the contract parser writes: v0 as signed, then one per amendment."""
    base = {
        "contract_id": contract_id,
        "valid_from": date.fromisoformat(valid_from),
        "valid_to": date.fromisoformat(valid_to),
        "partner_id": partner["id"],
        "partner_name": partner["name"],
        "partner_type": partner["type"],
        "partner_postcode": partner["postcode"],
        "partner_nuts3": partner["nuts3"],
        "partner_confidential": partner.get("confidential", False),
        "usage_area": usage_area,
        "funders": ["bund-strukturwandel"],
        "accounts": accounts,
        "gpu_hours_allocated": gpu_hours,
        "price_eur_per_gpu_hour": price,
        "jobs_created": jobs_created,
        "trainees": trainees,
        "activity": activity,
        "signed_on": date.fromisoformat(valid_from),
        "document": json.dumps({"contract_id": contract_id}),
    }
    versions = [dict(base, version_no=0, effective_from=base["valid_from"])]
    for i, amendment in enumerate(amendments, start=1):
        fields = {k: v for k, v in amendment.items() if k != "effective_from"}
        versions.append(dict(versions[-1], **fields, version_no=i,
                             effective_from=date.fromisoformat(amendment["effective_from"])))
    for prev, nxt in zip(versions, versions[1:]):
        prev["effective_to"] = nxt["effective_from"] - timedelta(days=1)
    versions[-1]["effective_to"] = base["valid_to"]
    return versions


P_SME = {"id": "P-SME", "name": "Muster Robotik GmbH", "type": "sme", "postcode": "04109", "nuts3": "DED51"}
P_UNI = {"id": "P-UNI", "name": "Universität Halle", "type": "university", "postcode": "06108", "nuts3": "DEE02"}
P_EDU = {"id": "P-EDU", "name": "KI-Akademie Berlin", "type": "education_provider", "postcode": "10115", "nuts3": "DE300"}
P_BIG = {"id": "P-BIG", "name": "Gross AG", "type": "large_enterprise", "postcode": "80331", "nuts3": "DE212", "confidential": True}
P_OPS = {"id": "P-KIRZ", "name": "KI-Rechenzentrum Leipzig", "type": "university", "postcode": "04109", "nuts3": "DED51"}

CONTRACTS = {
    "C-COOP": contract_versions("C-COOP", P_SME, "cooperation", ["mrob-ai"], "2026-01-01", "2026-12-31", 20000, 1.20,
                                jobs_created=3, amendments=[{"effective_from": "2026-07-01", "gpu_hours_allocated": 30000,
                                                             "accounts": ["mrob-ai", "mrob-edu"]}]),
    "C-UNI": contract_versions("C-UNI", P_UNI, "methods_research", ["uni-ml"], "2026-01-01", "2027-12-31", 100000, 0.0),
    "C-EDU": contract_versions("C-EDU", P_EDU, "education", ["edu-course"], "2026-09-01", "2027-02-28", 5000, 0.0, trainees=40),
    "C-BIG": contract_versions("C-BIG", P_BIG, "cooperation", ["big-co"], "2026-01-01", "2026-12-31", 10000, 3.00, jobs_created=5,
                               activity="economic"),
    "C-OPS": contract_versions("C-OPS", P_OPS, "operations", ["ops"], "2024-01-01", "2030-12-31", 0, 0.0),
}

NODES = [
    {"cluster": CLUSTER, "node": "gpu001", "partition": "gpu", "rack": "R01", "gpus": 8, "cpus": 128, "idle_w": 1200, "max_w": 10500},
    {"cluster": CLUSTER, "node": "gpu002", "partition": "gpu", "rack": "R01", "gpus": 8, "cpus": 128, "idle_w": 1200, "max_w": 10500},
    {"cluster": CLUSTER, "node": "cpu01", "partition": "cpu", "rack": "R07", "gpus": 0, "cpus": 256, "idle_w": 250, "max_w": 900},
]
METERS = [
    {"cluster": CLUSTER, "meter_id": "M-GRID", "kind": "grid_intake", "parent_meter_id": None},
    {"cluster": CLUSTER, "meter_id": "M-IT", "kind": "it", "parent_meter_id": "M-GRID"},
    {"cluster": CLUSTER, "meter_id": "M-COOL", "kind": "cooling", "parent_meter_id": "M-GRID"},
    {"cluster": CLUSTER, "meter_id": "M-HEAT", "kind": "heat_reuse", "parent_meter_id": None},
    {"cluster": CLUSTER, "meter_id": "M-PV", "kind": "renewable_supply", "parent_meter_id": None},
]
METER_RATES = {"M-GRID": 30.0, "M-IT": 20.0, "M-COOL": 9.0, "M-HEAT": 3.0, "M-PV": 7.5}  # kWh per hour

SAMPLES_FROM = ts("2026-10-24 00:00:00")
SAMPLES_TO = ts("2026-10-27 00:00:00")
NODE_WATTS = {"gpu001": 6000.0, "gpu002": 6000.0, "cpu01": 600.0}


def power_rows() -> list[dict]:
    rows = []
    t = SAMPLES_FROM
    while t <= SAMPLES_TO:
        for node, watts in NODE_WATTS.items():
            rows.append({"sample_at": t, "node": node, "watts": watts})
        t += timedelta(seconds=60)
    return rows


def meter_rows(rates: dict[str, float] = METER_RATES) -> list[dict]:
    # local 2026-10-24 00:00 (CEST) = 23 Oct 22:00 UTC; local 27 Oct 00:00 (CET) = 26 Oct 23:00 UTC
    start, stop = ts("2026-10-23 22:00:00"), ts("2026-10-26 23:00:00")
    rows, t, h = [], start, 0
    while t <= stop:
        for meter, rate in rates.items():
            rows.append({"reading_at": t, "meter_id": meter, "kwh": 100000.0 + rate * h})
        t += timedelta(hours=1)
        h += 1
    return rows


def gpu_rows(start: datetime, stop: datetime) -> list[dict]:
    """DCGM samples every 600 s from ``start`` to ``stop`` as the docstring describes them."""
    rows, t = [], start
    while t <= stop:
        for g in range(8):
            busy_203 = ts("2026-10-26 10:00:00") <= t < ts("2026-10-26 12:00:00")
            rows.append({"sample_at": t, "node": "gpu001", "gpu_index": g, "uuid": f"GPU-1-{g}",
                         "model": "NVIDIA H100 80GB HBM3", "util_pct": 75.0 if busy_203 else 0.0,
                         "power_w": 500.0 if busy_203 else 65.0, "fb_used_mib": 40960.0 if busy_203 else 0.0,
                         "hpc_job": "203" if busy_203 else None})
            job_205 = g == 2 and ts("2026-10-26 12:00:00") <= t < ts("2026-10-26 13:00:00")
            util = 60.0 if g in (0, 1) else 40.0 if job_205 else 0.0
            rows.append({"sample_at": t, "node": "gpu002", "gpu_index": g, "uuid": f"GPU-2-{g}",
                         "model": "NVIDIA H100 80GB HBM3", "util_pct": util, "power_w": 65.0 + 5.0 * util,
                         "fb_used_mib": 20480.0 if util else 0.0, "hpc_job": None})
        t += timedelta(seconds=600)
    return rows


def build_raw(con: duckdb.DuckDBPyConnection) -> RawWriter:
    w = RawWriter(con)
    w.add("inventory_nodes", NODES, "inventory")
    w.add("inventory_meters", METERS, "inventory")
    w.add("inventory_facility", [{"cluster": CLUSTER, "floor_area_m2": 1000.0, "design_it_power_kw": 3000.0}], "inventory")
    for versions in CONTRACTS.values():
        w.add("contract_versions", versions, "contracts")
    w.add("slurm_jobs", JOBS, "slurm")
    w.add("node_power", power_rows(), "power")
    w.add("meter_readings", meter_rows(), "meters")
    w.add("gpu_samples", gpu_rows(ts("2026-10-26 09:00:00"), ts("2026-10-26 13:00:00")), "gpu")
    return w


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    home = tmp_path_factory.mktemp("kirz-transform")
    settings = Settings(home=home, timezone="Europe/Berlin")
    with open_warehouse(settings.warehouse_path) as con:
        build_raw(con)
    result = transform(settings, unit_tests=True)
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    con.execute("set TimeZone = 'UTC'")
    yield result, con
    con.close()


def q(con, sql, params=()):
    return con.execute(sql, list(params)).fetchall()


def _unit_tests_defined() -> int:
    import yaml

    from kirz.transform import DBT_PROJECT_DIR

    return sum(len((yaml.safe_load(f.read_text()) or {}).get("unit_tests") or [])
               for f in (DBT_PROJECT_DIR / "models").rglob("*.yml"))


def test_contracted_not_null_columns_are_enforced_by_the_warehouse(built):
    """A column of a contracted model that must not be null says so once, as a constraint in its
    yml: the warehouse table carries NOT NULL, so a null in the model's output fails the build
    (no separate not_null test per column and night)."""
    import yaml

    from kirz.transform import DBT_PROJECT_DIR

    _, con = built
    declared = set()
    for f in (DBT_PROJECT_DIR / "models").rglob("*.yml"):
        for model in (yaml.safe_load(f.read_text()) or {}).get("models") or []:
            for col in model.get("columns") or []:
                if {"type": "not_null"} in (col.get("constraints") or []):
                    assert ((model.get("config") or {}).get("contract") or {}).get("enforced"), (f, model["name"])
                    declared.add((model["name"], col["name"]))
    assert len(declared) >= 50
    nullable = dict(((t, c), n) for t, c, n in q(con, """
        select table_name, column_name, is_nullable from duckdb_columns()
        where schema_name in ('marts', 'reporting', 'ref')"""))
    assert {k: nullable.get(k) for k in declared} == {k: False for k in declared}


def test_build_passes_every_model_and_test(built):
    result, _ = built
    assert result.ok, result.message
    assert result.failures == []
    assert result.counts["model"]["error"] == 0
    # every unit test of the project ran and passed
    assert _unit_tests_defined() >= 15
    assert result.counts["unit_test"]["pass"] == _unit_tests_defined()
    assert result.counts["test"]["pass"] >= 50
    assert result.counts["snapshot"]["pass"] == 1
    assert result.counts["seed"]["pass"] == 8


def test_production_builds_leave_unit_tests_out(monkeypatch, tmp_path):
    import kirz.transform as t

    seen = []
    monkeypatch.setattr(t, "run_dbt", lambda settings, args: seen.append(args) or t.DbtRun(args=args, success=True))
    settings = Settings(home=tmp_path)
    t.transform(settings)
    t.transform(settings, full_refresh=True, unit_tests=True)
    assert seen == [["build", "--exclude-resource-type", "unit_test"], ["build", "--full-refresh"]]


def test_gpu_hours_per_usage_area_and_day(built):
    _, con = built
    rows = q(con, """
        select cast(day as varchar), usage_area, coalesce(contract_id, '-'), gpu_hours, cpu_core_hours, jobs_started
        from marts.fct_usage_daily order by day, usage_area, contract_id
    """)
    assert rows == [
        ("2026-06-15", "cooperation", "C-COOP", 32.0, 256.0, 1),
        ("2026-06-30", "unassigned", "-", 16.0, 128.0, 1),
        ("2026-07-01", "cooperation", "C-COOP", 16.0, 128.0, 1),
        ("2026-07-01", "unassigned", "-", 8.0, 64.0, 0),
        ("2026-10-24", "methods_research", "C-UNI", 16.0, 256.0, 1),
        ("2026-10-25", "methods_research", "C-UNI", 400.0, 6400.0, 0),
        ("2026-10-26", "cooperation", "C-BIG", 16.0, 128.0, 1),
        ("2026-10-26", "education", "C-EDU", 4.0, 32.0, 1),
        ("2026-10-26", "methods_research", "C-UNI", 16.0, 256.0, 0),
        ("2026-10-26", "operations", "C-OPS", 0.0, 64.0, 1),
        ("2026-10-26", "unassigned", "-", 1.0, 8.0, 1),
    ]


def test_job_usage_contract_matching_across_the_amendment(built):
    _, con = built
    rows = dict(
        (r[0], r[1:])
        for r in q(con, """
            select job_id, usage_area, contract_id, version_no, partner_id
            from marts.fct_job_usage
        """)
    )
    assert rows["101"] == ("unassigned", None, None, None)   # before the amendment added mrob-edu
    assert rows["102"] == ("cooperation", "C-COOP", 1, "P-SME")
    assert rows["103"] == ("cooperation", "C-COOP", 0, "P-SME")
    assert rows["204"] == ("operations", "C-OPS", 0, "P-KIRZ")
    assert rows["205"] == ("unassigned", None, None, None)
    # started allocations only: no steps, no pending job
    assert sorted(rows) == ["101", "102", "103", "201", "202", "203", "204", "205"]


def test_running_job_ends_at_start_plus_elapsed(built):
    _, con = built
    (row,) = q(con, """
        select state, is_running, end_at, gpu_hours from marts.fct_job_usage where job_id = '202'
    """)
    assert row[:2] == ("RUNNING", True)
    assert row[2] == ts("2026-10-26 11:00:00")
    assert row[3] == 4.0


def test_cost_value_subsidy(built):
    _, con = built
    rows = {
        r[0]: r[1:]
        for r in q(con, "select job_id, cost_eur, compute_value_eur, subsidy_eur, economic_use_gpu_hours from marts.fct_job_usage")
    }
    assert rows["102"] == pytest.approx((19.2, 40.0, 20.8, 0.0))
    assert rows["103"] == pytest.approx((38.4, 80.0, 41.6, 0.0))
    assert rows["201"] == pytest.approx((0.0, 1080.0, 1080.0, 0.0))
    # above list price: no subsidy, counts as economic use
    assert rows["203"] == pytest.approx((48.0, 40.0, 0.0, 16.0))
    # CPU-only operations work: valued per core-hour, no partner, no subsidy
    assert rows["204"] == pytest.approx((0.0, 1.28, 0.0, 0.0))
    # unassigned: nobody pays, nobody is subsidised
    assert rows["101"] == pytest.approx((0.0, 60.0, 0.0, 0.0))


def test_every_started_job_in_exactly_one_usage_area_and_totals_conserve(built):
    _, con = built
    assert q(con, "select count(*), count(distinct job_key), count(usage_area) from marts.fct_job_usage") == [(8, 8, 8)]
    (daily,) = q(con, "select sum(gpu_hours) from marts.fct_usage_daily")
    (jobs,) = q(con, "select sum(gpu_hours) from marts.fct_job_usage")
    assert daily[0] == pytest.approx(jobs[0]) == 24 + 16 + 32 + 432 + 4 + 16 + 1


def test_contract_utilization_pro_rata_with_amendment(built):
    _, con = built
    rows = {
        r[0]: r[1:]
        for r in q(con, """
            select month_label, gpu_hours_allocated, gpu_hours_used, utilization_pct, version_no
            from marts.fct_contract_utilization where contract_id = 'C-COOP'
        """)
    }
    assert len(rows) == 12
    # June: 30 days of 20,000 / 365; 32 GPU-h used
    assert rows["2026-06"][0] == pytest.approx(30 * 20000 / 365)
    assert rows["2026-06"][1] == 32.0
    assert rows["2026-06"][2] == pytest.approx(100 * 32 / (30 * 20000 / 365))
    # July: the amendment's 30,000 from the 1st
    assert rows["2026-07"][0] == pytest.approx(31 * 30000 / 365)
    assert rows["2026-07"][1:3] == (16.0, pytest.approx(100 * 16 / (31 * 30000 / 365)))
    assert rows["2026-07"][3] == 1
    total = sum(r[0] for r in rows.values())
    assert total == pytest.approx(181 * 20000 / 365 + 184 * 30000 / 365)


def test_job_energy_and_emissions(built):
    _, con = built
    rows = {
        r[0]: r[1:]
        for r in q(con, """
            select job_id, it_energy_kwh, facility_energy_kwh, co2e_kg, co2e_market_kg, energy_quality, energy_coverage
            from marts.fct_job_usage
        """)
    }
    # 201: 27 h on two nodes at 6 kW = 324 kWh, PUE 1.5 -> 486 kWh; 2026 has no published factors
    # yet: the latest ones are used (UBA grid mix 2024: 363 g/kWh; AIB residual mix 2025:
    # 701.47 g/kWh); without a certificate ledger all energy takes the residual mix
    it, facility, co2e, market, quality, coverage = rows["201"]
    assert it == pytest.approx(324.0)
    assert facility == pytest.approx(486.0)
    assert co2e == pytest.approx(486.0 * 363 / 1000)
    assert market == pytest.approx(486.0 * 701.47 / 1000)
    assert (quality, coverage) == ("measured", pytest.approx(1.0))
    # 205 shares nothing: 1 h alone on gpu002 (202 ended at 11:00)
    assert rows["205"][0] == pytest.approx(6.0)
    # 204 on the CPU node: 2 h x 0.6 kW
    assert rows["204"][0] == pytest.approx(1.2)


def test_impact_kpis(built):
    _, con = built
    kpis = {
        (r[0], r[1], r[2]): r[3]
        for r in q(con, """
            select period, usage_area, kpi, value from marts.fct_impact_kpis
        """)
    }
    assert kpis[("2026-10", "all", "gpu_hours")] == pytest.approx(453.0)  # 16+400+16+4+16+1
    assert kpis[("2026-10", "methods_research", "gpu_hours")] == pytest.approx(432.0)
    assert kpis[("2026-Q3", "cooperation", "gpu_hours")] == pytest.approx(16.0)
    assert kpis[("2026-Q2", "cooperation", "gpu_hours")] == pytest.approx(32.0)
    assert kpis[("2026", "all", "gpu_hours")] == pytest.approx(525.0)
    assert kpis[("2026-10", "all", "jobs")] == 5          # 201..205 started in October
    assert kpis[("2026-10", "all", "active_users")] == 5  # carl, dora, emil, fred, gina
    # partners with usage in October (operations excluded): P-UNI, P-EDU, P-BIG
    assert kpis[("2026-10", "all", "active_partners")] == 3
    assert kpis[("2026-10", "all", "new_partners")] == 3
    assert kpis[("2026-06", "all", "new_partners")] == 1  # P-SME
    assert kpis[("2026-10", "all", "partners_type_large_enterprise")] == 1
    assert kpis[("2026-10", "all", "partners_region_revier")] == 1
    assert kpis[("2026-10", "all", "partners_region_germany_other")] == 2
    # Revier partners got 432 of 453 GPU-h; companies (P-BIG) 16
    assert kpis[("2026-10", "all", "revier_gpu_hour_share_pct")] == pytest.approx(100 * 432 / 453)
    assert kpis[("2026-10", "all", "company_gpu_hour_share_pct")] == pytest.approx(100 * 16 / 453)
    assert kpis[("2026-10", "education", "trainees")] == 1
    assert kpis[("2026-10", "education", "courses")] == 1
    assert kpis[("2026-10", "all", "cooperation_projects_active")] == 2
    assert kpis[("2026-10", "all", "committed_jobs_created")] == 8
    assert kpis[("2026-10", "all", "compute_value_eur")] == pytest.approx(453 * 2.5 + 64 * 0.02)
    # capacity counts the days in operation: from the first day with data (15 June; the
    # inventory has no commissioning day) to the last (27 October local: the power samples
    # end at 01:00 local): 1-27 October = 27 days + 1 hour (end of summer time) = 649 h x 16 GPUs
    assert kpis[("2026-10", "all", "gpu_utilization_pct")] == pytest.approx(100 * 453 / (16 * 649))
    # meters: local 24-26 October = 24 + 25 + 24 hours at 30 kWh/h grid and 20 kWh/h IT
    assert kpis[("2026-10", "all", "facility_energy_kwh")] == pytest.approx(73 * 30.0)
    assert kpis[("2026-10", "all", "it_energy_kwh")] == pytest.approx(73 * 20.0)
    assert kpis[("2026-10", "all", "co2e_location_kg")] == pytest.approx(73 * 30.0 * 363 / 1000)
    assert kpis[("2026-10", "all", "co2e_market_kg")] == pytest.approx(73 * 30.0 * 701.47 / 1000)
    assert kpis[("2026-10", "all", "pue")] == pytest.approx(1.5)
    # the renewable share comes from the certificate ledger only (none here), never from a meter
    assert ("2026-10", "all", "renewable_share_pct") not in kpis
    assert kpis[("2026-10", "all", "erf")] == pytest.approx(0.1)
    assert kpis[("2026-10", "all", "avg_it_load_kw")] == pytest.approx(20.0)
    assert kpis[("2026-10", "all", "avg_it_load_design_pct")] == pytest.approx(100 * 20 / 3000)
    assert kpis[("2026", "all", "economic_use_gpu_hours")] == pytest.approx(16.0)
    # economic use is decided by the contract (C-BIG: activity economic), never by the price;
    # capacity of 2026 up to its last day with data: 15 June - 27 October = 135 days + 1 hour
    # = 3,241 h x 16 GPUs = 51,856 GPU-h; the allowance is 20 % of it
    assert kpis[("2026", "all", "economic_use_allowance_gpu_hours")] == pytest.approx(0.2 * 16 * 3241)
    assert kpis[("2026", "all", "economic_use_capacity_share_pct")] == pytest.approx(100 * 16 / (16 * 3241))
    assert kpis[("2026", "all", "economic_use_allowance_share_pct")] == pytest.approx(100 * 16 / (0.2 * 16 * 3241))
    assert kpis[("2026-10", "all", "deminimis_partners_flagged")] == 0


def test_busy_gpu_hours_exact_and_approximate(built):
    _, con = built
    rows = {r[0]: r[1:] for r in q(con, """
        select job_id, busy_gpu_hours, gpu_used_pct, gpu_use_source from marts.fct_job_usage
    """)}
    assert rows["203"] == (pytest.approx(12.0), pytest.approx(75.0), "exact")
    assert rows["202"] == (pytest.approx(2.4), pytest.approx(60.0), "approximate")
    assert rows["205"] == (pytest.approx(1.0), pytest.approx(100.0), "approximate")
    for job_id in ("101", "102", "103", "201", "204"):
        assert rows[job_id] == (None, None, "none"), job_id
    daily = q(con, """
        select coalesce(contract_id, '-'), busy_gpu_hours from marts.fct_usage_daily
        where day = date '2026-10-26' order by 1
    """)
    assert daily == [("-", pytest.approx(1.0)), ("C-BIG", pytest.approx(12.0)), ("C-EDU", pytest.approx(2.4)),
                     ("C-OPS", None), ("C-UNI", None)]
    # used (busy over the GPU-hours of the jobs with samples: 203, 202, 205 = 21 GPU-h) next to
    # allocated; job 201 (432 GPU-h in October, no samples) is left out, not counted idle
    kpis = {(r[0], r[1]): r[2] for r in q(con, """
        select usage_area, kpi, value from marts.fct_impact_kpis
        where period = '2026-10' and kpi in ('gpu_used_pct', 'gpu_utilization_pct')
    """)}
    assert kpis[("all", "gpu_used_pct")] == pytest.approx(100 * 15.4 / 21)
    assert kpis[("cooperation", "gpu_used_pct")] == pytest.approx(75.0)
    assert kpis[("education", "gpu_used_pct")] == pytest.approx(60.0)
    assert ("methods_research", "gpu_used_pct") not in kpis
    assert kpis[("all", "gpu_utilization_pct")] == pytest.approx(100 * 453 / (16 * 649))
    (rpt,) = q(con, """
        select busy_gpu_hours, gpu_used_pct from reporting.rpt_scope_period
        where scope_key = 'partner:P-BIG' and period = '2026-10' and usage_area = 'all'
    """)
    assert rpt == (pytest.approx(12.0), pytest.approx(75.0))
    # Slurm's own measure agrees for 203 (step 0 at 75 %)
    assert q(con, """
        select dcgm_gpu_used_pct, sacct_gpu_util_pct, sacct_steps from intermediate.int_job_gpu_use
        where job_key = 'kirz-leipzig:203'
    """) == [(pytest.approx(75.0), 75.0, 1)]


USAGE_PATHS = (
    "models/staging/slurm/",
    "models/staging/contracts/",
    "models/intermediate/usage/",
    "models/intermediate/contracts/",
    "models/marts/",
    "models/reporting/",
    "seeds/",
    "snapshots/",
)


def test_every_usage_model_and_column_is_described(built):
    result, con = built
    manifest_path = Path(result.run.args[result.run.args.index("--target-path") + 1]) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    checked = 0
    missing = []
    for node in manifest["nodes"].values():
        if node["resource_type"] not in ("model", "seed", "snapshot"):
            continue
        path = node["original_file_path"]
        if not path.startswith(USAGE_PATHS) or "fct_energy_daily" in path:
            continue
        if not node["description"].strip():
            missing.append(node["name"])
        described = {c for c, meta in node["columns"].items() if meta["description"].strip()}
        actual = [r[0] for r in q(con, """
            select column_name from information_schema.columns
            where table_schema = ? and table_name = ?
        """, [node["schema"], node["alias"]])]
        assert actual, node["unique_id"]
        missing += [f"{node['name']}.{c}" for c in actual if c not in described]
        checked += 1
    assert checked >= 20
    assert missing == []


# ---------------------------------------------------------------- late data, incremental builds
# Late data: an incremental build must give the same marts as a full refresh on the same inputs.
#
# Warehouse A is a copy of the built scenario above, then receives late data:
#   - job 202 finishes (a new Slurm record: COMPLETED at 15:00 instead of running until 11:00);
#   - a corrected meter export: the grid register again, at 33 kWh/h during local 26 October
#     (PUE 1.65 that day) instead of 30;
#   - a back-dated contract amendment: C-COOP is re-delivered with its amendment effective
#     2026-06-30 instead of 2026-07-01 (job 101, June, is now covered), and a new contract C-NEW
#     (startup in the Altenburger Land, Revier) takes account 'nobody' from 2026-10-01.
# A is rebuilt incrementally; a copy of A is rebuilt with --full-refresh; every mart must match.

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
    # Slurm's step of job 202 reads 20 % GPU use, DCGM's samples 59 %: the warning test reports it
    step_202 = dict(job("202", "edu-course", "u-dora", "gpu", "COMPLETED", "2026-10-26 09:00:00", "2026-10-26 15:00:00",
                        21600, 2, 16, ["gpu002"], step="batch"), gpu_util_ave_pct=20.0)
    w.add("slurm_jobs", [JOB_202_DONE, step_202], "slurm", received_at=late)
    w.add("gpu_samples", gpu_rows(ts("2026-10-26 13:10:00"), ts("2026-10-26 14:50:00")), "gpu", received_at=late)
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
def builds(built, tmp_path_factory):
    """Warehouse A = a copy of the built scenario plus late data, rebuilt incrementally;
    warehouse B = a copy of A rebuilt with --full-refresh."""
    first, first_con = built
    assert first.ok, first.message
    source = Path(first_con.execute("select path from duckdb_databases() where database_name = current_database()").fetchall()[0][0])
    home_a = tmp_path_factory.mktemp("kirz-incremental")
    settings_a = Settings(home=home_a, timezone="Europe/Berlin")
    settings_a.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, settings_a.warehouse_path)
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


def test_late_gpu_samples_and_job_end_change_busy_gpu_hours(builds):
    """Job 202 now runs 09:00-15:00 (12 GPU-h) and late samples cover 13:10-14:50: alone on
    gpu002 09:00-12:00 and 13:00-15:00 at 1.2 busy GPUs (5 h: 21,600 s); 12:00-13:00 shared with
    205 by GPUs (2 : 1): 2/3 of 1.6 x 3,600 s = 3,840 s; 202: 25,440 s, 205: 1,920 s."""
    con = builds["con"]
    rows = {r[0]: r[1:] for r in con.execute(
        "select job_id, busy_gpu_hours, gpu_used_pct, gpu_use_source from marts.fct_job_usage"
    ).fetchall()}
    assert rows["202"] == (pytest.approx(25440 / 3600), pytest.approx(100 * 25440 / 3600 / 12), "approximate")
    assert rows["205"] == (pytest.approx(1920 / 3600), pytest.approx(100 * 1920 / 3600), "approximate")
    assert rows["203"] == (pytest.approx(12.0), pytest.approx(75.0), "exact")
    # the two measures of job 202 disagree (DCGM 58.9 %, Slurm 20 %): a warning, not a failure
    (agree,) = [r for r in builds["incremental"].run.results if r.name == "gpu_use_sources_agree"]
    assert (agree.status, agree.failures) == ("warn", 1)


def test_incremental_run_recomputed_from_the_first_changed_day_only(builds):
    """Days before the earliest change keep their stored rows; no late window widens it."""
    con = builds["con"]
    rows = dict(con.execute(
        """
        select cast(day as varchar), min(grid_g_co2e_per_kwh)
        from intermediate.int_job_days_accounted group by day
        """
    ).fetchall())
    # earliest change: 30 June (the back-dated amendment) -> recomputed from 30 June on
    assert rows["2026-06-15"] == -1
    assert {d: v for d, v in rows.items() if d < "2026-06-30"} == {d: -1 for d in rows if d < "2026-06-30"}
    assert rows["2026-06-30"] == pytest.approx(363)
    assert rows["2026-10-26"] == pytest.approx(363)
    assert all(v > 0 for d, v in rows.items() if d >= "2026-06-30")


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


def test_failing_dbt_test_names_itself(tmp_path):
    """A contract with an unknown usage area breaks a relationships test: ok is False, named."""
    settings = Settings(home=tmp_path, timezone="Europe/Berlin")
    with open_warehouse(settings.warehouse_path) as con:
        bad = contract_versions("C-BAD", P_SME, "space_travel", ["x"], "2026-01-01", "2026-12-31", 10, 1.0)
        RawWriter(con).add("contract_versions", bad, "contracts")
    result = summarise(run_dbt(settings, [
        "build", "--select", "stg_contracts__versions usage_areas partner_types",
        "--indirect-selection", "cautious",
    ]))
    assert not result.ok
    assert [f.name for f in result.failures] == [
        "relationships_stg_contracts__versions_usage_area__usage_area__ref_usage_areas_"
    ]
    assert result.failures[0].failures == 1
    assert "relationships_stg_contracts__versions_usage_area" in result.message
    assert result.counts["seed"]["pass"] == 2
    assert result.counts["model"]["pass"] == 1


def test_incremental_job_resolution_equals_full_refresh(builds):
    """int_jobs_resolved is incremental: only jobs with a new version are resolved again, and
    the stored table equals a full refresh's (job 202's late record replaces its running one)."""
    con = builds["con"]
    a = con.execute(rounded_select(con, "intermediate", "int_jobs_resolved") + " order by job_key").fetchall()
    b = con.execute(rounded_select(con, "intermediate", "int_jobs_resolved", db="full_db") + " order by job_key").fetchall()
    assert a == b and len(a) == len(_allocation_keys(con))
    (state, running), = con.execute(
        "select state, is_running from intermediate.int_jobs_resolved where job_id = '202'").fetchall()
    assert (state, running) == ("COMPLETED", False)


def _allocation_keys(con):
    return con.execute("select distinct job_key from staging.stg_slurm__jobs where not is_step").fetchall()


def test_the_transform_runs_under_the_configured_memory_limit(tmp_path):
    """profiles.yml hands settings.memory_limit (KIRZ_MEMORY_LIMIT) to DuckDB."""
    from dbt.cli.main import dbtRunner

    import kirz.transform as t

    settings = Settings(home=tmp_path, memory_limit="1234MB")
    settings.warehouse_path.parent.mkdir(parents=True)
    paths = t.dbt_paths(settings)
    with t._dbt_environment(settings):
        res = dbtRunner().invoke([
            "show", "--inline", "select current_setting('memory_limit') as m",
            "--project-dir", str(t.DBT_PROJECT_DIR), "--profiles-dir", str(t.DBT_PROJECT_DIR),
            "--target-path", str(paths["target"]), "--log-path", str(paths["logs"]), "--quiet",
        ])
    t._release_duckdb()
    assert res.success, res.exception
    (limit,), = [tuple(row) for row in res.result.results[0].agate_table.rows]
    # DuckDB reports the limit in GiB: 1234 MB = 1.149 GiB (its default would be 80 % of RAM)
    assert limit == "1.1 GiB"
