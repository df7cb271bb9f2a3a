"""Time the raw-layer validation of one 300-node day (2.6 M power samples at 10 s).

Builds the day with numpy straight into a temporary warehouse (inventory, contracts, jobs,
power samples, meter readings), then times ``validate(settings, layer='raw', since=day,
until=day)`` after GX is imported (the import is timed on its own: it is paid once per
process), and each suite's batch building and GX run separately. It also times the floor:
one DuckDB scan that sums the day's samples. Figures are only comparable within one run.

    .venv/bin/python benchmarks/validation_bench.py [--nodes 300] [--interval-s 10]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

TZ = "Europe/Berlin"


def build_day(path: Path, day: date, nodes: int, interval_s: int, seed: int = 7) -> dict:
    from kirz.localtime import local_day_bounds
    from kirz.warehouse import open_warehouse

    rng = np.random.default_rng(seed)
    start, end = local_day_bounds(day, ZoneInfo(TZ))
    received = end + timedelta(days=1)
    n_gpu = nodes * 6 // 7
    names = [f"gpu{i:03d}" for i in range(1, n_gpu + 1)] + [f"cpu{i:02d}" for i in range(1, nodes - n_gpu + 1)]
    is_gpu = np.array([n.startswith("gpu") for n in names])
    with open_warehouse(path) as con:
        def load(table: str, ingest_id: int, cols: dict) -> None:
            n = len(next(iter(cols.values())))
            lineage = {
                "ingest_id": pa.array(np.full(n, ingest_id), pa.int64()),
                "source_file": pa.array([f"bench/{table}"] * n),
                "file_sha256": pa.array([f"sha-{ingest_id}"] * n),
                "line_no": pa.array(np.arange(1, n + 1), pa.int64()),
                "received_at": pa.array([received] * n, pa.timestamp("us", tz="UTC")),
            }
            tbl = pa.table({**lineage, **cols})
            con.register("_bench", tbl)
            con.execute(f"insert into raw.{table} by name select * from _bench")
            con.unregister("_bench")

        load("inventory_nodes", 1, {
            "cluster": ["kirz-leipzig"] * nodes, "node": names,
            "partition": ["gpu" if g else "cpu" for g in is_gpu], "rack": [f"R{i // 40 + 1:02d}" for i in range(nodes)],
            "gpus": pa.array(np.where(is_gpu, 8, 0), pa.int32()), "cpus": pa.array(np.where(is_gpu, 128, 256), pa.int32()),
            "idle_w": np.where(is_gpu, 1200.0, 250.0), "max_w": np.where(is_gpu, 10500.0, 900.0),
        })
        load("inventory_meters", 1, {
            "cluster": ["kirz-leipzig"] * 3, "meter_id": ["M-GRID", "M-IT", "M-COOL"],
            "kind": ["grid_intake", "it", "cooling"], "parent_meter_id": [None, "M-GRID", "M-GRID"],
        })
        load("inventory_facility", 1, {"cluster": ["kirz-leipzig"], "floor_area_m2": [1000.0], "design_it_power_kw": [3000.0]})
        n_contracts = 20
        load("contract_versions", 2, {
            "contract_id": [f"C-{i:03d}" for i in range(n_contracts)], "version_no": pa.array([0] * n_contracts, pa.int32()),
            "effective_from": [date(day.year, 1, 1)] * n_contracts, "effective_to": [date(day.year, 12, 31)] * n_contracts,
            "valid_from": [date(day.year, 1, 1)] * n_contracts, "valid_to": [date(day.year, 12, 31)] * n_contracts,
            "partner_id": [f"P-{i:03d}" for i in range(n_contracts)], "partner_name": ["x"] * n_contracts,
            "partner_type": ["university"] * n_contracts, "partner_postcode": ["04109"] * n_contracts,
            "partner_nuts3": ["DED51"] * n_contracts, "partner_confidential": [False] * n_contracts,
            "usage_area": ["methods_research"] * n_contracts, "funders": [["bund"]] * n_contracts,
            "accounts": [[f"acct{i:03d}"] for i in range(n_contracts)],
            "gpu_hours_allocated": [1e5] * n_contracts, "price_eur_per_gpu_hour": [0.0] * n_contracts,
            "jobs_created": pa.array([0] * n_contracts, pa.int32()), "trainees": pa.array([0] * n_contracts, pa.int32()),
            "document": ["{}"] * n_contracts,
        })
        n_jobs = 2000
        dur = rng.integers(60, 6 * 3600, n_jobs)
        node_idx = rng.integers(0, n_gpu, n_jobs)
        start_at = [start + timedelta(seconds=int(s)) for s in np.sort(rng.integers(0, 86000, n_jobs))]
        end_at = [s + timedelta(seconds=int(d)) for s, d in zip(start_at, dur)]
        load("slurm_jobs", 3, {
            "cluster": ["kirz-leipzig"] * n_jobs, "job_id": [str(10000 + i) for i in range(n_jobs)],
            "job_id_raw": [str(10000 + i) for i in range(n_jobs)], "allocation_id": [str(10000 + i) for i in range(n_jobs)],
            "is_step": [False] * n_jobs, "account": [f"acct{i % n_contracts:03d}" for i in range(n_jobs)],
            "partition": ["gpu"] * n_jobs, "state": ["COMPLETED"] * n_jobs, "state_raw": ["COMPLETED"] * n_jobs,
            "submit_at": pa.array([s - timedelta(minutes=5) for s in start_at], pa.timestamp("us", tz="UTC")),
            "start_at": pa.array(start_at, pa.timestamp("us", tz="UTC")),
            "end_at": pa.array(end_at, pa.timestamp("us", tz="UTC")),
            "elapsed_s": pa.array(dur, pa.int64()), "nnodes": pa.array([1] * n_jobs, pa.int32()),
            "ncpus": pa.array([64] * n_jobs, pa.int32()), "gpus": pa.array([8] * n_jobs, pa.int32()),
            "node_list": [names[i] for i in node_idx], "nodes": [[names[i]] for i in node_idx],
        })
        per_node = int((end - start).total_seconds()) // interval_s
        t0 = int(start.timestamp() * 1e6)
        stamps = t0 + np.arange(per_node, dtype=np.int64) * interval_s * 1_000_000
        samples = 0
        for block in range(0, nodes, 50):
            idx = np.arange(block, min(block + 50, nodes))
            n = len(idx) * per_node
            watts = np.where(np.repeat(is_gpu[idx], per_node), rng.uniform(1200, 9500, n), rng.uniform(250, 850, n))
            load("node_power", 4, {
                "sample_at": pa.array(np.tile(stamps, len(idx)), pa.timestamp("us", tz="UTC")),
                "node": pa.array(np.repeat(np.array(names)[idx], per_node)),
                "watts": watts,
            })
            samples += n
        k = np.arange(0, 4 * 25 + 8)
        at = [start - timedelta(hours=1) + timedelta(minutes=15 * int(i)) for i in k]
        load("meter_readings", 5, {
            "reading_at": pa.array(at * 3, pa.timestamp("us", tz="UTC")),
            "meter_id": ["M-GRID"] * len(k) + ["M-IT"] * len(k) + ["M-COOL"] * len(k),
            "kwh": np.concatenate([5e6 + k * 600.0, 4e6 + k * 480.0, 1e6 + k * 100.0]),
        })
    return {"nodes": nodes, "samples": samples, "jobs": n_jobs, "start": start, "end": end}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nodes", type=int, default=300)
    ap.add_argument("--interval-s", type=int, default=10)
    ap.add_argument("--day", default="2026-10-20")
    ap.add_argument("--work", type=Path, default=None, help="work folder (default: a temp folder, removed after)")
    args = ap.parse_args(argv)
    day = date.fromisoformat(args.day)
    work = args.work or Path(tempfile.mkdtemp(prefix="kirz-dq-bench-"))
    try:
        from kirz.config import load_settings
        from kirz.validation import FrameScope, _register_days, run_suite, suite_modules, validate
        from kirz.warehouse import open_warehouse

        settings = load_settings(env={}, home=work / "home", pseudonym_key="bench", timezone=TZ)
        t = time.perf_counter()
        facts = build_day(settings.warehouse_path, day, args.nodes, args.interval_s)
        print(f"built the day: {facts['nodes']} nodes, {facts['samples']:,} power samples, "
              f"{facts['jobs']:,} jobs in {time.perf_counter() - t:.1f} s")

        t = time.perf_counter()
        import great_expectations  # noqa: F401

        print(f"import great_expectations      {time.perf_counter() - t:8.2f} s (once per process)")
        with open_warehouse(settings.warehouse_path) as con:
            t = time.perf_counter()
            con.execute("select node, sum(watts), count(*) from raw.node_power where sample_at >= ? and sample_at < ? "
                        "group by node", [facts["start"], facts["end"]]).fetchall()
            print(f"floor: one scan summing samples {time.perf_counter() - t:8.2f} s")
            for mod in suite_modules("raw", settings):
                scope = FrameScope(tz=TZ, days=(day,) if mod.GRAIN else ())
                t = time.perf_counter()
                if scope.days:
                    _register_days(con, scope)
                frame = mod.load_frame(con, scope)
                built = time.perf_counter() - t
                t = time.perf_counter()
                rows = run_suite(con, mod, scope)
                total = time.perf_counter() - t
                print(f"  {mod.SUITE:<28} batch {len(frame):>6,} rows in {built:6.2f} s; "
                      f"suite with batch {total:6.2f} s; {sum(not r['success'] for r in rows)} failed")
        t = time.perf_counter()
        run = validate(settings, layer="raw", since=day, until=day)
        elapsed = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"validate(layer='raw', one day) {elapsed:8.2f} s  status {run.status}, {run.expectations} checks, "
              f"{run.critical} critical, {run.warnings} warnings; peak RSS {peak:,.0f} MB")
        for r in run.results:
            if not r["success"]:
                print(f"    failed: {r['suite']} / {r['expectation']}: {r['observed_value']}")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
