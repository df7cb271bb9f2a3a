"""``kirz pull prometheus`` of the DCGM series into landing/gpu/, against a real Prometheus 2.42.

The bed (its own Prometheus, backfilled with ``promtool``) holds 3 h of 30 s DCGM samples of
four GPUs, as the DCGM exporter labels them: gpu001 GPU 0 held by job 4242 (``hpc_job``),
gpu001 GPU 1 idle, gpu002 GPU 0 busy and GPU 1 idle (gpu002's exporter maps no jobs). Each
DCGM query names the source ``gpu``: its answers land in landing/gpu/, are read by the GPU
parser and equal, GPU by GPU, what was loaded; node power (no such series here) lands nothing.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import datetime, timezone

import pytest

import testbed
from testbed_fixtures import _need_root

UTC = timezone.utc
STEP_S = 30
POINTS = 360  # 3 h
QUERIES = {
    "node_power": "ipmi_dcmi_power_consumption_watts",
    "gpu_util": {"query": "DCGM_FI_DEV_GPU_UTIL", "source": "gpu"},
    "gpu_power": {"query": "DCGM_FI_DEV_POWER_USAGE", "source": "gpu"},
    "gpu_fb_used": {"query": "DCGM_FI_DEV_FB_USED", "source": "gpu"},
}


def _toml_value(v) -> str:
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {json.dumps(x)}" for k, x in v.items()) + " }"
    return json.dumps(v)


def _settings(home, url: str, queries=QUERIES):
    from kirz.config import load_settings

    home.mkdir(parents=True, exist_ok=True)
    lines = ["[pull.prometheus]", f"url = {json.dumps(url)}", f"step_s = {STEP_S}", "lag_s = 0",
             "[pull.prometheus.queries]"] + [f"{name} = {_toml_value(q)}" for name, q in queries.items()]
    (home / "kirz.toml").write_text("\n".join(lines) + "\n")
    return load_settings(env={}, home=home, pseudonym_key="gpu-pull-key")


@pytest.fixture(scope="module")
def dcgm():
    """{(node, gpu, hpc_job): {metric: [(t, value)]}}: values on a quarter-watt grid, so sums
    compare exactly."""
    end = (int(time.time()) // 7200) * 7200 - 7200
    start = end - (POINTS - 1) * STEP_S
    t = [start + i * STEP_S for i in range(POINTS)]

    def series(util, power, fb):
        return {"DCGM_FI_DEV_GPU_UTIL": [(x, util(i)) for i, x in enumerate(t)],
                "DCGM_FI_DEV_POWER_USAGE": [(x, power(i)) for i, x in enumerate(t)],
                "DCGM_FI_DEV_FB_USED": [(x, fb) for x in t]}

    return {
        ("gpu001", 0, "4242"): series(lambda i: 90 + i % 4, lambda i: 600.25 + (i % 3) * 0.25, 40960),
        ("gpu001", 1, None): series(lambda i: 0, lambda i: 65.5, 0),
        ("gpu002", 0, None): series(lambda i: 75, lambda i: 500.5, 30000),
        ("gpu002", 1, None): series(lambda i: i % 2, lambda i: 66.0, 0),
    }


@pytest.fixture(scope="module")
def bed(dcgm):
    _need_root()
    base = testbed.make_base("kirz-prometheus-gpu-")
    server = testbed.start_prometheus(base, text=testbed.dcgm_openmetrics(dcgm))
    try:
        yield server
    finally:
        testbed.stop_prometheus(server)
        shutil.rmtree(base, ignore_errors=True)


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def test_dcgm_queries_land_in_the_gpu_folder_and_ingest_as_loaded(bed, dcgm, tmp_path):
    from kirz.pipeline import ingest_landing
    from kirz.pull import pull_prometheus
    from kirz.warehouse import open_warehouse

    settings = _settings(tmp_path / "home", bed.url)
    first = min(t for s in dcgm.values() for t, _ in s["DCGM_FI_DEV_GPU_UTIL"])
    last = max(t for s in dcgm.values() for t, _ in s["DCGM_FI_DEV_GPU_UTIL"])
    results = {r.key: r for r in pull_prometheus(settings, since=_iso(first), until=_iso(last))}
    assert results["node_power"].files == [] and results["node_power"].records == 0
    for name in ("gpu_util", "gpu_power", "gpu_fb_used"):
        (path,) = results[name].files
        assert path.parent == settings.landing_for("gpu") and path.name.startswith(f"prometheus-{name}-")
        assert (results[name].series, results[name].records) == (4, 4 * POINTS)
    assert not settings.landing_for("power").exists() or list(settings.landing_for("power").iterdir()) == []

    run = ingest_landing(settings, sources=("gpu",))
    assert [(r.status, r.format, r.rows_quarantined) for r in run.results] == [
        ("loaded", "dcgm_prometheus_json", 0)] * 3
    with open_warehouse(settings.warehouse_path) as con:
        got = {
            (node, gpu, job): (n_util, util, n_power, power, n_fb, fb)
            for node, gpu, job, n_util, util, n_power, power, n_fb, fb in con.execute(
                """
                select node, gpu_index, hpc_job, count(util_pct), sum(util_pct), count(power_w), sum(power_w),
                       count(fb_used_mib), sum(fb_used_mib)
                from raw.gpu_samples group by all
                """
            ).fetchall()
        }
        span = con.execute("select min(epoch(sample_at)), max(epoch(sample_at)) from raw.gpu_samples").fetchall()
    want = {
        key: tuple(x for metric in ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_FB_USED")
                   for x in (len(s[metric]), float(sum(v for _, v in s[metric]))))
        for key, s in dcgm.items()
    }
    assert got == want
    assert span == [(first, last)]


def test_a_query_for_a_source_that_reads_no_prometheus_answers_is_refused(tmp_path):
    from kirz.pull import PullError, prometheus_config

    settings = _settings(tmp_path / "home", "http://127.0.0.1:1",
                         {"x": {"query": "DCGM_FI_DEV_GPU_UTIL", "source": "meters"}})
    with pytest.raises(PullError, match=r"query 'x': source 'meters' reads no Prometheus answers \(one of power, gpu\)"):
        prometheus_config(settings)
    cfg = prometheus_config(_settings(tmp_path / "ok", "http://127.0.0.1:1"))
    assert cfg.targets == {"node_power": "power", "gpu_util": "gpu", "gpu_power": "gpu", "gpu_fb_used": "gpu"}
    bare = _settings(tmp_path / "default", "http://127.0.0.1:1", {})
    assert prometheus_config(bare).queries == {
        "node_power": "ipmi_dcmi_power_consumption_watts", "gpu_util": "DCGM_FI_DEV_GPU_UTIL",
        "gpu_power": "DCGM_FI_DEV_POWER_USAGE", "gpu_fb_used": "DCGM_FI_DEV_FB_USED"}
