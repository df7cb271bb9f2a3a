"""Property tests of the energy split: random samples and jobs on one or two nodes.

`reference_split` is an independent, plain-Python reading of the accounting rules (DESIGN.md,
"Energy attribution"). Hypothesis checks the dbt models against it in two ways:

- many examples on the compiled SQL of the models (`dbt compile` once, then the compiled
  statements run on an in-memory DuckDB holding the example's inputs), asserting conservation
  (job parts + idle = node energy per node-minute), that no job gets energy outside its
  interval, and equality with the reference;
- a few examples through a real `dbt build` on a warehouse file (several independent
  scenarios per build, each on its own nodes), compared with the reference.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kirz.warehouse import open_warehouse
from test_dbt_energy import RawWriter, query, run_dbt

UTC = timezone.utc
# close to UTC midnight, so that typical intervals are cut at the UTC day boundary
BASE = datetime(2026, 3, 9, 23, 57, tzinfo=UTC)
BASE_US = int(BASE.timestamp()) * 1_000_000
MINUTE_US = 60_000_000
DAY_US = 86_400_000_000
FALLBACK_INTERVAL_US = 60_000_000
LOAD_FACTOR = 0.8
INVENTORY = {
    # node suffix -> (gpus, cpus, idle_w, max_w)
    "g": (8, 128, 1200.0, 10500.0),
    "c": (0, 256, 250.0, 900.0),
}
SPLIT_MODELS = ["int_node_minute_energy", "int_node_minute_occupancy", "int_job_node_minute_energy"]


@dataclass(frozen=True)
class Sample:
    node: str
    t_us: int
    watts: float
    ingest_id: int
    line_no: int


@dataclass(frozen=True)
class Alloc:
    job_key: str
    node: str
    start_us: int
    end_us: int
    gpus_on_node: float
    cpus_on_node: float


def weight_unit(node: str) -> str:
    return "cpu" if INVENTORY[node.split("-")[-1]][0] == 0 else "gpu"


def reference_node_minutes(samples: list[Sample]) -> dict[tuple[str, int], dict]:
    """E(n,m) with its measured and interpolated parts and covered seconds, keyed by (node, minute no)."""
    latest: dict[tuple[str, int], Sample] = {}
    for s in samples:
        key = (s.node, s.t_us)
        if key not in latest or (s.ingest_id, s.line_no) > (latest[key].ingest_id, latest[key].line_no):
            latest[key] = s
    by_node: dict[str, list[Sample]] = defaultdict(list)
    for s in latest.values():
        by_node[s.node].append(s)
    out: dict[tuple[str, int], dict] = defaultdict(lambda: {"energy": 0.0, "measured": 0.0, "covered": 0.0})
    for node, seq in by_node.items():
        seq.sort(key=lambda s: s.t_us)
        nxt = [seq[i + 1].t_us if i + 1 < len(seq) else None for i in range(len(seq))]
        gaps: dict[int, list[int]] = defaultdict(list)
        for s, n in zip(seq, nxt):
            if n is not None and n // DAY_US == s.t_us // DAY_US:
                gaps[s.t_us // DAY_US].append(max(1, math.floor((n - s.t_us) / 1e6 + 0.5)))
        interval = {}
        for day, g in gaps.items():
            g.sort()
            interval[day] = g[(len(g) + 1) // 2 - 1] * 1_000_000  # lower median
        for s, n in zip(seq, nxt):
            iv = interval.get(s.t_us // DAY_US, FALLBACK_INTERVAL_US)
            hold = min(n - s.t_us, 5 * iv) if n is not None else 5 * iv
            measured = n is not None and (n - s.t_us) <= 1.5 * iv
            a, b = s.t_us, s.t_us + hold
            m = a // MINUTE_US
            while m * MINUTE_US < b:
                lo, hi = max(a, m * MINUTE_US), min(b, (m + 1) * MINUTE_US)
                if hi > lo:
                    cell = out[(node, m)]
                    cell["energy"] += s.watts * (hi - lo) / 1e6
                    cell["measured"] += s.watts * (hi - lo) / 1e6 if measured else 0.0
                    cell["covered"] += (hi - lo) / 1e6
                m += 1
    return dict(out)


def reference_split(samples: list[Sample], allocs: list[Alloc]) -> tuple[dict, dict, dict]:
    """(node minutes, job parts keyed by (job, node, minute no), idle joules keyed by (node, minute no))."""
    nm = reference_node_minutes(samples)
    # occupancy: union of job intervals per node, clipped to each minute
    occupied: dict[tuple[str, int], float] = defaultdict(float)
    per_node: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for a in allocs:
        per_node[a.node].append((a.start_us, a.end_us))
    for node, ivs in per_node.items():
        merged: list[list[int]] = []
        for lo, hi in sorted(ivs):
            if merged and lo <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        for lo, hi in merged:
            for m in range(lo // MINUTE_US, (hi - 1) // MINUTE_US + 1):
                occupied[(node, m)] += (min(hi, (m + 1) * MINUTE_US) - max(lo, m * MINUTE_US)) / 1e6
    parts: dict[tuple[str, str, int], dict] = {}
    cell_jobs: dict[tuple[str, int], list[tuple[Alloc, float]]] = defaultdict(list)
    for a in allocs:
        for m in range(a.start_us // MINUTE_US, (a.end_us - 1) // MINUTE_US + 1):
            ov = (min(a.end_us, (m + 1) * MINUTE_US) - max(a.start_us, m * MINUTE_US)) / 1e6
            cell_jobs[(a.node, m)].append((a, ov))
    for (node, m), jobs in cell_jobs.items():
        gw = sum(a.gpus_on_node * ov for a, ov in jobs)
        cw = sum(a.cpus_on_node * ov for a, ov in jobs)
        tw = sum(ov for _, ov in jobs)
        gpus, cpus, idle_w, max_w = INVENTORY[node.split("-")[-1]]
        unit = weight_unit(node)
        occ_s = occupied[(node, m)]
        cell = nm.get((node, m), {"energy": 0.0, "measured": 0.0, "covered": 0.0})
        if unit == "gpu" and gw > 0:
            alloc_share = min(1.0, gw / (gpus * occ_s))
        elif cw > 0:
            alloc_share = min(1.0, cw / (cpus * occ_s))
        else:
            alloc_share = 1.0
        power = idle_w + (max_w - idle_w) * alloc_share * LOAD_FACTOR
        for a, ov in jobs:
            if unit == "gpu" and gw > 0:
                share = a.gpus_on_node * ov / gw
            elif cw > 0:
                share = a.cpus_on_node * ov / cw
            else:
                share = ov / tw
            parts[(a.job_key, node, m)] = {
                "overlap": ov,
                "sampled": cell["energy"] * occ_s / 60 * share,
                "measured": cell["measured"] * occ_s / 60 * share,
                "estimated": power * occ_s * (1 - cell["covered"] / 60) * share,
            }
    idle = {key: cell["energy"] * (1 - occupied.get(key, 0.0) / 60) for key, cell in nm.items()}
    return nm, parts, idle


# ---------------------------------------------------------------- strategies


@st.composite
def scenarios(draw, prefix: str = "x") -> tuple[list[Sample], list[Alloc]]:
    nodes = [f"{prefix}-g", f"{prefix}-c"][: draw(st.integers(1, 2))]
    samples: list[Sample] = []
    line = 0
    for node in nodes:
        step = draw(st.sampled_from([10, 15, 30]))
        t = draw(st.integers(0, 40))
        for _ in range(draw(st.integers(0, 24))):
            t += step * draw(st.sampled_from([1, 1, 1, 1, 2, 3, 7]))  # regular, bridged and long gaps
            jitter = draw(st.sampled_from([0, 0, 0, 250_000, -125_000]))
            line += 1
            watts = float(draw(st.integers(0, 12000)))
            samples.append(Sample(node, BASE_US + t * 1_000_000 + jitter, watts, 1, line))
            if draw(st.integers(0, 9)) == 0:  # the same instant delivered again later
                samples.append(Sample(node, BASE_US + t * 1_000_000 + jitter, float(draw(st.integers(0, 12000))), 2, line))
    allocs: list[Alloc] = []
    for j in range(draw(st.integers(0, 3))):
        start = draw(st.integers(0, 500))
        end = start + draw(st.integers(1, 400))
        start_us = BASE_US + start * 1_000_000 + draw(st.sampled_from([0, 500_000]))
        on = draw(st.sampled_from([nodes[:1], nodes[-1:], nodes]))
        gpus, cpus = draw(st.integers(0, 8)), draw(st.integers(0, 64))
        for node in dict.fromkeys(on):
            allocs.append(Alloc(f"c:{prefix}{j}", node, start_us, BASE_US + end * 1_000_000,
                                gpus / len(set(on)), cpus / len(set(on))))
    return samples, allocs


# ---------------------------------------------------------------- compiled SQL on DuckDB


@pytest.fixture(scope="module")
def compiled_sql(tmp_path_factory) -> dict[str, str]:
    """The split models' SQL, compiled once by dbt (full-refresh form) against an empty warehouse."""
    work = tmp_path_factory.mktemp("energy_compile")
    warehouse = work / "energy_prop.duckdb"
    with open_warehouse(warehouse):
        pass
    run_dbt(warehouse, work, "compile", "--full-refresh", "--select", *SPLIT_MODELS)
    base = work / "target" / "compiled" / "kirz" / "models" / "intermediate" / "energy"
    return {name: (base / f"{name}.sql").read_text() for name in SPLIT_MODELS}


def run_compiled(compiled: dict[str, str], samples: list[Sample], allocs: list[Alloc]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute("attach ':memory:' as energy_prop")
    con.execute("use energy_prop")
    for schema in ("staging", "intermediate"):
        con.execute(f"create schema {schema}")
    con.execute("create table staging.stg_power__node_samples (node varchar, sample_at timestamptz, watts double,"
                " ingest_id bigint, line_no bigint)")
    if samples:
        con.executemany("insert into staging.stg_power__node_samples values (?, make_timestamptz(?), ?, ?, ?)",
                        [(s.node, s.t_us, s.watts, s.ingest_id, s.line_no) for s in samples])
    con.execute("create table intermediate.int_job_node_allocations (job_key varchar, node varchar,"
                " start_at timestamptz, end_at timestamptz, gpus_on_node double, cpus_on_node double,"
                " weight_unit varchar, job_ingest_id bigint)")
    if allocs:
        con.executemany("insert into intermediate.int_job_node_allocations values"
                        " (?, ?, make_timestamptz(?), make_timestamptz(?), ?, ?, ?, 1)",
                        [(a.job_key, a.node, a.start_us, a.end_us, a.gpus_on_node, a.cpus_on_node, weight_unit(a.node))
                         for a in allocs])
    con.execute("create table staging.stg_inventory__nodes (node varchar, gpus integer, cpus integer,"
                " idle_w double, max_w double, ingest_id bigint)")
    for prefix in {s.node.rsplit("-", 1)[0] for s in samples} | {a.node.rsplit("-", 1)[0] for a in allocs}:
        for suffix, (g, c, i, m) in INVENTORY.items():
            con.execute("insert into staging.stg_inventory__nodes values (?, ?, ?, ?, ?, 1)", [f"{prefix}-{suffix}", g, c, i, m])
    for name in SPLIT_MODELS:
        con.execute(f"create table intermediate.{name} as {compiled[name]}")
    return con


def minute_no(ts: datetime) -> int:
    return int(ts.timestamp()) * 1_000_000 // MINUTE_US


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def check_against_reference(nm_rows, part_rows, samples, allocs) -> None:
    ref_nm, ref_parts, _ = reference_split(samples, allocs)
    got_nm = {(n, minute_no(m)): (e, me, c) for n, m, e, me, c in nm_rows}
    assert set(got_nm) == {k for k, v in ref_nm.items() if v["covered"] > 0}
    for key, (e, me, c) in got_nm.items():
        ref = ref_nm[key]
        assert close(e, ref["energy"]) and close(me, ref["measured"]) and close(c, ref["covered"]), (key, (e, me, c), ref)
    got_parts = {(j, n, minute_no(m)): (ov, sj, mj, ej) for j, n, m, ov, sj, mj, ej in part_rows}
    assert set(got_parts) == set(ref_parts)
    for key, (ov, sj, mj, ej) in got_parts.items():
        ref = ref_parts[key]
        assert close(ov, ref["overlap"]), key
        assert close(sj, ref["sampled"]) and close(mj, ref["measured"]) and close(ej, ref["estimated"]), (key, ref)


NM_SQL = "select node, minute_at, energy_j, measured_j, covered_s from intermediate.int_node_minute_energy"
PART_SQL = ("select job_key, node, minute_at, overlap_s, sampled_j, measured_j, estimated_j"
            " from intermediate.int_job_node_minute_energy")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios())
def test_compiled_split_conserves_energy_and_matches_reference(compiled_sql, scenario):
    samples, allocs = scenario
    con = run_compiled(compiled_sql, samples, allocs)
    # conservation: per node-minute, job parts + E x (1 - occ) = E; shares add up to 1
    bad = con.execute("""
        with parts as (
            select node, minute_at, sum(sampled_j) as job_j, sum(job_share) as shares
            from intermediate.int_job_node_minute_energy group by all)
        select n.node, n.minute_at, n.energy_j, coalesce(p.job_j, 0), coalesce(o.occupancy, 0), p.shares
        from intermediate.int_node_minute_energy n
        full join parts p on n.node = p.node and n.minute_at = p.minute_at
        left join intermediate.int_node_minute_occupancy o
            on coalesce(n.node, p.node) = o.node and coalesce(n.minute_at, p.minute_at) = o.minute_at
        where abs(coalesce(p.job_j, 0) + coalesce(n.energy_j, 0) * (1 - coalesce(o.occupancy, 0))
                  - coalesce(n.energy_j, 0)) > 1e-9 * greatest(abs(coalesce(n.energy_j, 0)), 1)
           or abs(p.shares - 1) > 1e-9""").fetchall()
    assert bad == []
    # no job energy outside its interval: each part's minute overlaps the job on that node
    parts = con.execute("select job_key, node, minute_at, overlap_s, sampled_j, estimated_j"
                        " from intermediate.int_job_node_minute_energy").fetchall()
    spans = {(a.job_key, a.node): (a.start_us, a.end_us) for a in allocs}
    for job_key, node, minute_at, overlap_s, sampled_j, estimated_j in parts:
        start_us, end_us = spans[(job_key, node)]
        m_us = minute_no(minute_at) * MINUTE_US
        assert start_us < m_us + MINUTE_US and m_us < end_us
        assert 0 < overlap_s <= 60 and sampled_j >= 0 and estimated_j >= 0
    total_nm = con.execute(NM_SQL).fetchall()
    check_against_reference(total_nm, con.execute(PART_SQL).fetchall(), samples, allocs)


# ---------------------------------------------------------------- through dbt build


def slurm_row(job_key: str, allocs: list[Alloc]) -> dict:
    mine = [a for a in allocs if a.job_key == job_key]
    a = mine[0]
    return {
        "cluster": "c", "job_id": job_key[2:], "job_id_raw": job_key[2:], "allocation_id": job_key[2:],
        "is_step": False, "state": "COMPLETED", "state_raw": "COMPLETED", "account": "a",
        "start_at": datetime.fromtimestamp(a.start_us / 1e6, UTC), "end_at": datetime.fromtimestamp(a.end_us / 1e6, UTC),
        "elapsed_s": (a.end_us - a.start_us) // 1_000_000, "nnodes": len(mine),
        "gpus": round(a.gpus_on_node * len(mine)), "ncpus": round(a.cpus_on_node * len(mine)),
        "nodes": [x.node for x in mine],
    }


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batch=st.tuples(*(scenarios(prefix=p) for p in ("a", "b", "d", "e"))))
def test_dbt_build_matches_reference(tmp_path_factory, batch):
    work = tmp_path_factory.mktemp("energy_prop_build")
    warehouse = work / "warehouse.duckdb"
    with open_warehouse(warehouse) as con:
        w = RawWriter(con)
        when = BASE + timedelta(days=2)
        rows = [{"cluster": "c", "node": f"{p}-{s}", "gpus": g, "cpus": c, "idle_w": i, "max_w": m}
                for p in ("a", "b", "d", "e") for s, (g, c, i, m) in INVENTORY.items()]
        w.add("inventory_nodes", rows, when)
        jobs = [slurm_row(key, allocs) for _, allocs in batch for key in dict.fromkeys(a.job_key for a in allocs)]
        if jobs:
            w.add("slurm_jobs", jobs, when)
        for ingest in (1, 2):
            power = [{"sample_at": datetime.fromtimestamp(s.t_us / 1e6, UTC), "node": s.node, "watts": s.watts}
                     for samples, _ in batch for s in samples if s.ingest_id == ingest]
            if power:
                w.add("node_power", power, when + timedelta(hours=ingest))
    run_dbt(warehouse, work, "build", "--select", "+int_job_node_minute_energy", "--exclude", "resource_type:unit_test",
            "--indirect-selection", "cautious")
    nm_rows = query(warehouse, NM_SQL)
    part_rows = query(warehouse, PART_SQL)
    for prefix, (samples, allocs) in zip(("a", "b", "d", "e"), batch):
        check_against_reference([r for r in nm_rows if r[0].startswith(prefix + "-")],
                                [r for r in part_rows if r[1].startswith(prefix + "-")], samples, allocs)
