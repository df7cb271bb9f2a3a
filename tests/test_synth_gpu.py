"""The synthetic centre's GPU metrics: DCGM series consistent with its jobs, deterministic per
seed, counted in the manifest, and the busy GPU-hours they give equal to what dbt computes."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from kirz.config import load_settings
from kirz.ingest.loader import ingest_paths
from kirz.synth import synthesize


@pytest.fixture(scope="module")
def centre(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth-gpu")
    manifest = synthesize(root / "a", nodes=6, days=2, interval_s=300, gpu_interval_s=600, seed=11)
    settings = load_settings(env={}, home=root / "home", pseudonym_key="synth-gpu-key")
    results = ingest_paths(settings, "sacct", [root / "a" / "slurm"]) + ingest_paths(settings, "gpu", [root / "a" / "gpu"])
    assert {r.status for r in results} == {"loaded"}
    return root, manifest, settings, results


def test_one_dcgm_file_per_day_counted_in_the_manifest(centre):
    root, manifest, _, results = centre
    files = [f for f in manifest["files"] if f["source"] == "gpu"]
    assert [f["path"] for f in files] == ["gpu/dcgm-2026-10-19.json", "gpu/dcgm-2026-10-20.json"]
    # 5 GPU nodes x 8 GPUs x 144 samples a day (600 s), three metrics merged into one row each
    assert manifest["parameters"]["gpu_interval_s"] == 600
    assert manifest["totals"]["gpu_samples"] == manifest["raw_rows"]["gpu_samples"] == 2 * 5 * 8 * 144
    gpu = [r for r in results if r.source == "gpu"]
    assert sum(r.rows_loaded for r in gpu) == manifest["raw_rows"]["gpu_samples"]
    assert sum(r.rows_quarantined for r in gpu) == 0
    assert sum(f["series"] for f in files) == manifest["totals"]["gpu_series"]
    assert manifest["quirks"]["gpu_nodes_mapping_jobs"] == ["gpu001", "gpu003", "gpu005"]


def test_same_seed_same_files(centre, tmp_path):
    root, _, _, _ = centre
    synthesize(tmp_path / "b", nodes=6, days=2, interval_s=300, gpu_interval_s=600, seed=11)
    for name in ("dcgm-2026-10-19.json", "dcgm-2026-10-20.json"):
        assert (tmp_path / "b" / "gpu" / name).read_bytes() == (root / "a" / "gpu" / name).read_bytes()


def test_busy_gpus_are_the_jobs_and_idle_ones_read_near_zero(centre):
    """On the nodes that map GPUs to jobs, a labelled sample lies inside its job's interval on
    one of its nodes, and at each instant a job has exactly its GPUs per node labelled; the
    unlabelled samples there read 0 or 1 %, the labelled ones show the job's load."""
    _, _, settings, _ = centre
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        outside, wrong_count, idle_max, busy_min = con.execute(
            """
            with jobs as (
                select job_id_raw, start_at, end_at, gpus, nodes from raw.slurm_jobs
                where not is_step and start_at is not null
                qualify row_number() over (partition by job_id_raw order by ingest_id desc, line_no desc) = 1
            ),
            labelled as (
                select s.*, j.start_at, coalesce(j.end_at, timestamptz '2026-10-21 00:00:00+02') as end_at,
                       j.gpus // len(j.nodes) as gpus_per_node, list_contains(j.nodes, s.node) as on_node
                from raw.gpu_samples s left join jobs j on s.hpc_job = j.job_id_raw
                where s.hpc_job is not null
            )
            select
                (select count(*) from labelled
                 where not coalesce(on_node and sample_at >= start_at and sample_at < end_at, false)),
                (select count(*) from (select hpc_job, node, sample_at, count(*) as n, any_value(gpus_per_node) as g
                                       from labelled group by all) where n <> g),
                (select max(util_pct) from raw.gpu_samples where hpc_job is null and node in ('gpu001', 'gpu003', 'gpu005')),
                (select min(util_pct) from labelled)
            """
        ).fetchall()[0]
        per_node = dict(con.execute("select node, count(distinct hpc_job) from raw.gpu_samples group by 1").fetchall())
    finally:
        con.close()
    assert (outside, wrong_count) == (0, 0)
    assert idle_max <= 1.0 and busy_min >= 40.0
    assert per_node["gpu002"] == per_node["gpu004"] == 0 and per_node["gpu001"] > 0


def test_dbt_busy_gpu_hours_of_exact_jobs_equal_the_generator(demo_centre):
    """The demo centre (8 nodes x 3 days): the jobs on mapping nodes only are 'exact', and their
    busy GPU-hours are what the generator wrote (each sample held until the next one)."""
    con = duckdb.connect(str(demo_centre.snapshot), read_only=True)
    try:
        rows = dict(con.execute(
            "select gpu_use_source, sum(busy_gpu_hours) from marts.fct_job_usage group by 1").fetchall())
    finally:
        con.close()
    truth = demo_centre.manifest["truth"]["busy_gpu_hours"]
    assert rows["exact"] == pytest.approx(truth["exact"], abs=1e-5)
    # the approximate path shares a node's utilisation by GPUs: near, not equal, to the truth
    assert rows["approximate"] == pytest.approx(truth["approximate"], rel=0.05)
    assert demo_centre.manifest["quirks"]["gpu_nodes_mapping_jobs"] == [
        "gpu001", "gpu003", "gpu005", "gpu007"]


def test_gpu_interval_must_divide_an_hour(tmp_path):
    with pytest.raises(ValueError, match="gpu_interval_s must divide 3600"):
        synthesize(Path(tmp_path), nodes=2, days=1, gpu_interval_s=7)
