"""GPU metrics: DCGM series from Prometheus query_range JSON -> raw.gpu_samples.

The fixture ``dcgm_quirks.json`` holds, at t0 = 2026-10-20 10:00:00Z and t0 + 30 s, in this
order (sample numbers across the file in brackets):

  1 util of gpu001 GPU 0, job 1001: 100 [1], 87 [2]
  2 util of gpu001 GPU 1, no job label: 0 [3], 1 [4]
  3 power of gpu001 GPU 0, job 1001: 612.5 [5], 598.25 [6]
  4 power of gpu001 GPU 1, job label empty: 61 [7], NaN [8]
  5 frame buffer of gpu001 GPU 0, job 1001: 40960 [9], 41000 [10]
  6 DCGM_FI_DEV_SM_CLOCK of gpu001 GPU 0: [11], [12]              (a metric kirz does not read)
  7 util of gpu001 GPU 0, job 1001 again (another exporter port): 99 [13]     (duplicate of [1])
  8 util with node from `instance` gpu002:9400 and gpu label 'x': [14]        (no GPU index)
  9 gpu002 GPU 3 without __name__: [15]
 10 util of gpu002 GPU 3: DCGM's blank marker [16], 12 [17]
 11 gpu002 GPU 4 without a values list                                         (not a series)
"""

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from kirz.config import load_settings
from kirz.ingest.base import FormatError, ParseContext
from kirz.ingest.gpu import detect, parse
from kirz.ingest.loader import ingest_paths
from kirz.ingest.power import raw_schema
from kirz.warehouse import open_warehouse

FIX = Path(__file__).parent / "fixtures" / "gpu"
UTC = timezone.utc
T0 = datetime(2026, 10, 20, 10, 0, tzinfo=UTC)
T1 = datetime(2026, 10, 20, 10, 0, 30, tzinfo=UTC)
H100 = "NVIDIA H100 80GB HBM3"


def test_dcgm_series_merge_into_one_row_per_gpu_job_and_instant():
    parsed = parse(FIX / "dcgm_quirks.json", ParseContext())
    table = parsed.tables["gpu_samples"]
    assert table.schema == raw_schema("gpu_samples")
    assert parsed.format == "dcgm_prometheus_json"
    assert table.to_pylist() == [
        {"line_no": 1, "sample_at": T0, "node": "gpu001", "gpu_index": 0, "uuid": "GPU-aaa", "model": H100,
         "util_pct": 100.0, "power_w": 612.5, "fb_used_mib": 40960.0, "hpc_job": "1001"},
        {"line_no": 2, "sample_at": T1, "node": "gpu001", "gpu_index": 0, "uuid": "GPU-aaa", "model": H100,
         "util_pct": 87.0, "power_w": 598.25, "fb_used_mib": 41000.0, "hpc_job": "1001"},
        {"line_no": 3, "sample_at": T0, "node": "gpu001", "gpu_index": 1, "uuid": "GPU-bbb", "model": H100,
         "util_pct": 0.0, "power_w": 61.0, "fb_used_mib": None, "hpc_job": None},
        {"line_no": 4, "sample_at": T1, "node": "gpu001", "gpu_index": 1, "uuid": "GPU-bbb", "model": H100,
         "util_pct": 1.0, "power_w": None, "fb_used_mib": None, "hpc_job": None},
        {"line_no": 17, "sample_at": T1, "node": "gpu002", "gpu_index": 3, "uuid": "GPU-ccc", "model": H100,
         "util_pct": 12.0, "power_w": None, "fb_used_mib": None, "hpc_job": None},
    ]
    assert [(q.line_no, q.reason) for q in parsed.quarantine] == [
        (8, "value: NaN is not a reading"),
        (11, "series: metric 'DCGM_FI_DEV_SM_CLOCK' is not one kirz reads (DCGM_FI_DEV_GPU_UTIL, "
             "DCGM_FI_DEV_POWER_USAGE, DCGM_FI_DEV_FB_USED); its 2 samples are not loaded"),
        (13, "duplicate sample: DCGM_FI_DEV_GPU_UTIL of GPU 0 on gpu001 at this instant already given (line 1)"),
        (14, "series: gpu label 'x' is not a GPU index; its 1 samples are not loaded"),
        (15, "series: no __name__ label (a query must keep the metric name: see docs/live-systems.md); "
             "its 1 samples are not loaded"),
        (16, "value: a DCGM blank marker (no reading)"),
        (None, "series: no 'values' list (not a matrix series)"),
    ]
    # the raw text names the series and the sample
    by_line = {q.line_no: json.loads(q.raw_text) for q in parsed.quarantine}
    assert by_line[8]["sample"] == [1792490430, "NaN"] and by_line[8]["metric"]["gpu"] == "1"
    assert by_line[11]["samples"] == 2 and by_line[11]["metric"]["__name__"] == "DCGM_FI_DEV_SM_CLOCK"
    assert by_line[None]["metric"]["gpu"] == "4"
    assert parsed.rows_read == 5 + 7 == parsed.rows_loaded + len(parsed.quarantine)


def test_a_metric_dict_and_a_result_list_are_read_too(tmp_path):
    t0 = int(T0.timestamp())
    series = {"metric": {"Hostname": "gpu003", "gpu": "2", "UUID": "GPU-eee", "modelName": H100},
              "values": [[t0, "42"]]}
    as_dict = tmp_path / "dict.json"
    as_dict.write_text(json.dumps({"DCGM_FI_DEV_GPU_UTIL": [series],
                                   "DCGM_FI_DEV_FB_USED": [dict(series, values=[[t0, "1024"]])]}))
    (row,) = parse(as_dict, ParseContext()).tables["gpu_samples"].to_pylist()
    assert (row["node"], row["gpu_index"], row["util_pct"], row["fb_used_mib"], row["line_no"]) == ("gpu003", 2, 42.0, 1024.0, 1)
    as_list = tmp_path / "list.json"
    as_list.write_text(json.dumps([dict(series, metric=dict(series["metric"], __name__="DCGM_FI_DEV_POWER_USAGE"))]))
    (row,) = parse(as_list, ParseContext()).tables["gpu_samples"].to_pylist()
    assert (row["power_w"], row["util_pct"]) == (42.0, None)


def test_detection_and_whole_file_errors(tmp_path):
    head = (FIX / "dcgm_quirks.json").read_bytes()[:65536]
    assert detect(head) == "dcgm_prometheus_json"
    assert detect(b"timestamp,node,watts\n") is None
    bad = tmp_path / "error.json"
    bad.write_text('{"status": "error", "errorType": "bad_data", "error": "parse error"}')
    with pytest.raises(FormatError, match="status 'error': bad_data parse error"):
        parse(bad, ParseContext())
    with pytest.raises(FormatError, match="not a GPU metrics file"):
        parse(Path(__file__).parent / "fixtures" / "power" / "node_power.csv", ParseContext())
    with pytest.raises(FormatError, match="format 'power_csv' is not a gpu format"):
        parse(FIX / "dcgm_quirks.json", ParseContext(fmt="power_csv"))


def test_loaded_through_the_loader_with_lineage_and_quarantine_once(tmp_path):
    settings = load_settings(env={}, home=tmp_path / "home", pseudonym_key="k")
    (res,) = ingest_paths(settings, "gpu", [FIX / "dcgm_quirks.json"])
    assert (res.status, res.format, res.rows_read, res.rows_loaded, res.rows_quarantined) == (
        "loaded", "dcgm_prometheus_json", 12, 5, 7)
    (again,) = ingest_paths(settings, "gpu", [FIX / "dcgm_quirks.json"])
    assert again.status == "duplicate"
    with open_warehouse(settings.warehouse_path) as con:
        rows = con.execute("select line_no, node, gpu_index, util_pct, hpc_job from raw.gpu_samples order by line_no").fetchall()
        q = con.execute("select source, line_no from raw.quarantine order by line_no nulls last").fetchall()
    assert rows == [(1, "gpu001", 0, 100.0, "1001"), (2, "gpu001", 0, 87.0, "1001"), (3, "gpu001", 1, 0.0, None),
                    (4, "gpu001", 1, 1.0, None), (17, "gpu002", 3, 12.0, None)]
    assert q == [("gpu", n) for n in (8, 11, 13, 14, 15, 16, None)]


def test_a_dcgm_file_in_the_power_folder_is_rejected_not_read_as_node_power(tmp_path):
    settings = load_settings(env={}, home=tmp_path / "home", pseudonym_key="k")
    (res,) = ingest_paths(settings, "power", [FIX / "dcgm_quirks.json"])
    assert res.status == "rejected" and "not a power file of any known format" in res.message
