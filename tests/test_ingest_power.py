import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from kirz.ingest.base import FormatError, ParseContext
from kirz.ingest.power import PREFERRED_METRICS, detect, node_of, parse, raw_schema

FIX = Path(__file__).parent / "fixtures" / "power"
REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
KEPLER = REALDATA / "kepler-model-server" / "prom_output_idle.json"
UTC = timezone.utc
CTX = ParseContext()


def rows(parsed):
    return parsed.tables["node_power"].to_pylist()


def reasons(parsed):
    return {q.line_no: q.reason for q in parsed.quarantine}


def assert_counts(parsed):
    assert parsed.rows_read == parsed.rows_loaded + len(parsed.quarantine)


def t(h, m, s, us=0):
    return datetime(2026, 3, 1, h, m, s, us, tzinfo=UTC)


# --- detection ---------------------------------------------------------------------------


def test_detect():
    assert detect((FIX / "node_power.csv").read_bytes()) == "power_csv"
    assert detect(b"\xef\xbb\xbfnode,Watts,timestamp\r\nx") == "power_csv"
    assert detect((FIX / "prom_gauge.json").read_bytes()) == "prometheus_json"
    assert detect((FIX / "prom_counter.json").read_bytes()) == "prometheus_json"
    assert detect(KEPLER.read_bytes()[:65536]) == "prometheus_json"
    assert detect((FIX / "sacct-manyfields.txt").read_bytes()) is None
    assert detect(b"timestamp,meter_id,kwh\n") is None
    assert detect(b'{"meta": {}, "jobs": []}') is None


# --- CSV ---------------------------------------------------------------------------------


def test_csv_rows_and_every_quarantine_path():
    parsed = parse(FIX / "node_power.csv", CTX)
    assert parsed.format == "power_csv"
    assert parsed.warnings == []
    table = parsed.tables["node_power"]
    assert table.schema == raw_schema("node_power")
    assert [r["line_no"] for r in rows(parsed)] == [2, 3, 4, 5, 6, 7, 15]
    assert [(r["sample_at"], r["node"], r["watts"]) for r in rows(parsed)] == [
        (t(0, 0, 0), "gpu001", 1500.5),          # Z
        (t(0, 0, 15), "gpu001", 1510.0),         # 01:00:15+01:00
        (t(0, 0, 30), "gpu001", 1490.25),        # naive = UTC
        (t(0, 0, 45), "gpu002", 880.0),          # epoch 1772323245
        (t(0, 1, 0, 500000), "gpu002", -3.0),    # epoch float; negative kept for validation
        (t(0, 1, 15), "gpu002", 901.5),          # quoted fields
        (t(0, 2, 45), "gpu003", 1000.0),         # 1e3
    ]
    # line 8 is blank: no row at all
    assert reasons(parsed) == {
        9: "watts: 'abc' is not a number",
        10: "timestamp: '2026-03-01T25:00:00Z' is not ISO 8601 or epoch seconds",
        11: "field count: expected 3 fields (timestamp,node,watts), found 2",
        12: "watts: 'NaN' is NaN, not a measurement",
        13: "node: empty",
        14: "watts: 'inf' is not finite",
    }
    assert {q.line_no: q.raw_text for q in parsed.quarantine}[11] == "2026-03-01T00:01:45Z,gpu003"
    assert parsed.rows_read == 13
    assert_counts(parsed)


def test_csv_truncated_last_line_is_quarantined_rest_loaded():
    parsed = parse(FIX / "truncated.csv", CTX)  # CRLF line ends, cut inside the last row
    assert [(r["line_no"], r["node"], r["watts"]) for r in rows(parsed)] == [(2, "cpu01", 250.0), (3, "cpu01", 260.5)]
    assert [(q.line_no, q.raw_text) for q in parsed.quarantine] == [(4, "2026-03-01T00:00:30Z,cpu0")]
    assert parsed.quarantine[0].reason.startswith("field count")
    assert parsed.warnings == ["last line has no line break: the file may be truncated"]
    assert_counts(parsed)


def test_csv_bom_column_order_too_many_fields_and_blank_line(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("\ufeffnode,watts,timestamp\ncpu01,250,2026-03-01T00:00:00Z\ncpu01,251,2026-03-01T00:00:15Z,extra\n   \n")
    parsed = parse(f, CTX)
    assert [(r["line_no"], r["sample_at"], r["node"], r["watts"]) for r in rows(parsed)] == [
        (2, t(0, 0, 0), "cpu01", 250.0)
    ]
    assert reasons(parsed) == {
        3: "field count: expected 3 fields (timestamp,node,watts), found 4",
        4: "field count: expected 3 fields (timestamp,node,watts), found 1",  # blanks only
    }


def test_csv_epoch_in_milliseconds_is_refused(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("timestamp,node,watts\n1772323200000,cpu01,250\n")
    parsed = parse(f, CTX)
    assert rows(parsed) == []
    assert reasons(parsed) == {2: "timestamp: '1772323200000' is not ISO 8601 or epoch seconds"}


def test_csv_invalid_utf8_line_is_quarantined(tmp_path):
    f = tmp_path / "p.csv"
    f.write_bytes(b"timestamp,node,watts\n2026-03-01T00:00:00Z,gpu\xff1,10\n2026-03-01T00:00:00Z,gpu2,20\n")
    parsed = parse(f, CTX)
    assert [(r["node"], r["watts"]) for r in rows(parsed)] == [("gpu2", 20.0)]
    assert reasons(parsed) == {2: "encoding: invalid UTF-8 bytes in line"}


def test_csv_header_only_gives_no_rows(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("timestamp,node,watts\n")
    parsed = parse(f, CTX)
    assert parsed.rows_read == 0 and parsed.tables["node_power"].num_rows == 0


def test_wrong_kind_file_is_rejected():
    with pytest.raises(FormatError, match="not a power file"):
        parse(FIX / "sacct-manyfields.txt", CTX)
    with pytest.raises(FormatError, match="does not match 'timestamp,node,watts'") as err:
        parse(FIX / "sacct-manyfields.txt", ParseContext(fmt="power_csv"))
    assert err.value.line_no == 1
    with pytest.raises(FormatError, match="not valid JSON"):
        parse(FIX / "node_power.csv", ParseContext(fmt="prometheus_json"))
    with pytest.raises(FormatError, match="not a power format"):
        parse(FIX / "node_power.csv", ParseContext(fmt="meters_csv"))


def test_csv_bulk_2_6_million_rows(tmp_path):
    n = 2_600_000
    rng = np.random.default_rng(7)
    start = np.datetime64("2026-03-01T00:00:00", "s")
    ts = np.datetime_as_string(start + np.arange(n) // 1000 * 15, unit="s")
    nodes = np.char.add("gpu", np.char.zfill((np.arange(n) % 1000).astype(str), 4))
    table = pa.table(
        {
            "timestamp": pa.array(np.char.add(ts, "Z")),
            "node": pa.array(nodes),
            "watts": pa.array(rng.uniform(900, 10500, n).round(1)),
        }
    )
    f = tmp_path / "big.csv"
    pacsv.write_csv(table, f, pacsv.WriteOptions(quoting_style="none"))
    t0 = time.perf_counter()
    parsed = parse(f, CTX)
    print(f"\nparsed {n} power CSV rows in {time.perf_counter() - t0:.2f} s")
    assert parsed.tables["node_power"].num_rows == n
    assert parsed.quarantine == [] and parsed.rows_read == n


# --- Prometheus JSON ---------------------------------------------------------------------


def test_prometheus_gauges_summed_per_node_and_bad_samples():
    parsed = parse(FIX / "prom_gauge.json", CTX)
    assert parsed.format == "prometheus_json"
    assert parsed.tables["node_power"].schema == raw_schema("node_power")
    # two PSU series of gpu001 are summed: 600.5 + 599.5 and 610 + 590
    assert [(r["line_no"], r["sample_at"], r["node"], r["watts"]) for r in rows(parsed)] == [
        (1, t(0, 0, 0), "gpu001", 1200.0),
        (2, t(0, 0, 15), "gpu001", 1200.0),
        (7, t(0, 0, 0), "gpu002", 1200.0),                   # hostname wins over instance
        (9, t(0, 0, 0, 500000), "gpu003.kirz.local", 300.0),  # instance without :9100
    ]
    assert reasons(parsed) == {
        3: "value: NaN is not a measurement",
        6: "duplicate sample: timestamp repeated in its series",
        8: "value: 'abc' is not a number",
        10: "node: series has no node, hostname or instance label",
    }
    assert orjson.loads({q.line_no: q.raw_text for q in parsed.quarantine}[8])["sample"] == [1772323215, "abc"]
    # 10 samples: 4 quarantined, 6 good ones summed into 4 node samples
    assert parsed.rows_read == 8
    assert any("6 series samples summed into 4" in w for w in parsed.warnings)
    assert_counts(parsed)


def test_prometheus_counter_rates_reset_and_duplicate():
    parsed = parse(FIX / "prom_counter.json", CTX)  # bare result list, no envelope
    # 1000 -> 16000 -> 31000 -> 6000 (reset) -> 21000, 15 s apart
    assert [(r["line_no"], r["sample_at"], r["node"], r["watts"]) for r in rows(parsed)] == [
        (1, t(0, 0, 0), "gpu001", 1000.0),
        (2, t(0, 0, 15), "gpu001", 1000.0),
        (4, t(0, 0, 30), "gpu001", 400.0),   # after the reset the increase is 6000 J
        (5, t(0, 0, 45), "gpu001", 1000.0),
    ]
    r = reasons(parsed)
    assert r[3] == "duplicate sample: timestamp repeated in its series"
    assert r[6].startswith("counter end:") and r[7].startswith("counter end:")
    assert len(r) == 3
    assert_counts(parsed)


def test_prometheus_data_object_unsorted_forced_counter(tmp_path):
    doc = {
        "resultType": "matrix",
        "result": [
            {
                "metric": {"instance": "[fd00::5]:9100"},
                "values": [[1772323230, "700"], [1772323200, "100"], [1772323210, "300"]],
            }
        ],
    }
    f = tmp_path / "p.json"
    f.write_bytes(orjson.dumps(doc))
    parsed = parse(f, CTX, counter=True)
    # sorted: 100 @0, 300 @10, 700 @30 -> 20 W over [0,10), 20 W over [10,30)
    assert [(r["line_no"], r["sample_at"], r["node"], r["watts"]) for r in rows(parsed)] == [
        (2, t(0, 0, 0), "fd00::5", 20.0),
        (3, t(0, 0, 10), "fd00::5", 20.0),
    ]
    assert reasons(parsed) == {1: reasons(parsed)[1]} and reasons(parsed)[1].startswith("counter end")
    # the same file read as gauges: three samples as they are
    gauges = parse(f, CTX, counter=False)
    assert [r["watts"] for r in rows(gauges)] == [700.0, 100.0, 300.0]


def test_prometheus_malformed_samples_and_series(tmp_path):
    doc = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {"metric": {"node": "n1"}, "values": [[1772323200, "5"], [1772323215], ["x", "6"], [1772323245, "+Inf"], [1772323260, True]]},
                {"metric": {"node": "n2"}, "value": [1772323200, "5"]},
                {"metric": {"node": "n3"}, "values": [[1772323200, "7"], [-5, "8"]]},
            ],
        },
    }
    f = tmp_path / "p.json"
    f.write_bytes(orjson.dumps(doc))
    parsed = parse(f, CTX)
    assert [(r["line_no"], r["node"], r["watts"]) for r in rows(parsed)] == [(1, "n1", 5.0), (6, "n3", 7.0)]
    assert reasons(parsed) == {
        2: 'sample: not a [timestamp, "value"] pair',
        3: "timestamp: 'x' is not epoch seconds",
        4: "value: infinite is not a measurement",
        5: "value: True is not a number",
        7: "timestamp: not epoch seconds between 1970 and 9999",
        None: "series: no 'values' list (not a matrix series)",
    }
    assert_counts(parsed)


def test_prometheus_rejections(tmp_path):
    f = tmp_path / "p.json"
    f.write_bytes(orjson.dumps({"status": "error", "errorType": "bad_data", "error": "parse error"}))
    with pytest.raises(FormatError, match="status 'error': bad_data parse error"):
        parse(f, CTX)
    f.write_bytes(orjson.dumps({"status": "success", "data": {"resultType": "vector", "result": []}}))
    with pytest.raises(FormatError, match="resultType 'vector'"):
        parse(f, CTX)
    f.write_bytes(orjson.dumps({"some_metric": [{"metric": {}, "values": []}]}))
    with pytest.raises(FormatError, match="none of kepler_node_platform_joules_total"):
        parse(f, CTX)
    f.write_bytes(b'{"status": "success", "data": {"resultType": "matrix", "result": [')
    with pytest.raises(FormatError, match="not valid JSON"):
        parse(f, CTX)


def test_prometheus_empty_matrix(tmp_path):
    f = tmp_path / "p.json"
    f.write_bytes(orjson.dumps({"status": "success", "data": {"resultType": "matrix", "result": []}}))
    parsed = parse(f, CTX)
    assert parsed.rows_read == 0 and parsed.tables["node_power"].num_rows == 0


def test_node_label_rules():
    assert node_of({"node": "gpu001", "hostname": "h", "instance": "i:1"}) == "gpu001"
    assert node_of({"hostname": "h", "instance": "i:1"}) == "h"
    assert node_of({"instance": "gpu007:9100"}) == "gpu007"
    assert node_of({"instance": "gpu007"}) == "gpu007"
    assert node_of({"instance": "[::1]:9100"}) == "::1"
    assert node_of({"job": "x"}) is None


# --- the real Kepler capture -------------------------------------------------------------


def test_kepler_platform_counter_real_file():
    assert PREFERRED_METRICS[0] == "kepler_node_platform_joules_total"
    parsed = parse(KEPLER, CTX)
    got = rows(parsed)
    assert {r["node"] for r in got} == {"kind-fms-control-plane"}
    # idle + dynamic counters, read off the file:
    #   1702462599: dynamic 333, idle 34293; 1702462614: 345, 36000; 1702462629: 378, 37707;
    #   1702462650: 393, 39414
    # first interval (15 s): (345-333 + 36000-34293) / 15 = 1719 / 15 = 114.6 W
    # second (15 s): (33 + 1707) / 15 = 116.0 W; third (21 s): (15 + 1707) / 21 = 82.0 W
    start = datetime(2023, 12, 13, 10, 16, 39, tzinfo=UTC)
    assert got[0]["sample_at"] == start
    assert got[0]["watts"] == pytest.approx(114.6, abs=1e-9)
    assert got[1]["sample_at"] == start + timedelta(seconds=15)
    assert got[1]["watts"] == pytest.approx(116.0, abs=1e-9)
    assert got[2]["sample_at"] == start + timedelta(seconds=30)
    assert got[2]["watts"] == pytest.approx(82.0, abs=1e-9)
    # the last sample repeats the previous counter values 3 s later: 0 J in 3 s
    assert got[-1]["sample_at"] == datetime(2023, 12, 13, 10, 18, 3, tzinfo=UTC) and got[-1]["watts"] == 0.0
    # 2 series x 7 samples: 12 rates summed into 6 node samples, 2 series ends quarantined
    assert len(got) == 6 and [q.line_no for q in parsed.quarantine] == [7, 14]
    assert parsed.rows_read == 8
    assert_counts(parsed)


def test_kepler_other_metric_by_keyword():
    parsed = parse(KEPLER, CTX, metric="kepler_node_package_joules_total")
    first = rows(parsed)[0]
    # packages 0 and 1, idle and dynamic, 1702462599 -> 1702462614:
    # (7641.736-7150.525) + (7836.863-7326.768) + (15252.116-14762.883) + (15309.256-14810.746)
    # = 491.211 + 510.095 + 489.233 + 498.510 = 1989.049 J in 15 s
    assert first["watts"] == pytest.approx(1989.049 / 15, rel=1e-12)
    with pytest.raises(FormatError, match="metric 'no_such_metric' not in file"):
        parse(KEPLER, CTX, metric="no_such_metric")


# --- the bulk paths of plain files give what the general readers give ----------------------


def test_plain_csv_bulk_load_equals_the_general_reader_and_quarantines_by_line(tmp_path, monkeypatch):
    from kirz import config
    from kirz.ingest import power
    from kirz.ingest.loader import ingest_paths
    from kirz.warehouse import open_warehouse

    lines = ["node,timestamp,watts"]
    lines += [f"gpu{k % 7:03d},{1772323200 + k},{100 + k * 0.1:.1f}" for k in range(500)]
    lines[40] = "gpu001,2026-03-01T00:10:00Z,abc"
    lines[77] = "gpu002,yesterday,12.5"
    lines[90] = ",2026-03-01T00:10:00Z,12.5"
    lines[120] = "gpu003,2026-03-01T00:10:00+01:00,NaN"
    lines[121] = "gpu003,2026-03-01T00:10:00,-inf"
    path = tmp_path / "p.csv"
    path.write_text("\n".join(lines) + "\n")
    loads = []
    real = power.load_measurement_csv
    monkeypatch.setattr(power, "load_measurement_csv", lambda *a, **k: loads.append(real(*a, **k)) or loads[-1])
    settings = config.load_settings(env={}, home=tmp_path / "home", pseudonym_key="k")
    [result] = ingest_paths(settings, "power", [path])
    assert loads and loads[0] is not None  # the bulk load, not the parser
    with open_warehouse(settings.warehouse_path) as con:
        quarantined = con.execute("select line_no, raw_text, reason from raw.quarantine order by line_no").fetchall()
        loaded = con.execute("select line_no, sample_at, node, watts from raw.node_power order by line_no").fetchall()
    general = parse(path, CTX)
    assert quarantined == [(q.line_no, q.raw_text, q.reason) for q in general.quarantine]
    assert loaded == [(r["line_no"], r["sample_at"], r["node"], r["watts"]) for r in rows(general)]
    assert dict((line, reason) for line, _, reason in quarantined) == {
        41: "watts: 'abc' is not a number",
        78: "timestamp: 'yesterday' is not ISO 8601 or epoch seconds",
        91: "node: empty", 121: "watts: 'NaN' is NaN, not a measurement",
        122: "watts: '-inf' is not finite"}
    assert quarantined[0][1] == "gpu001,2026-03-01T00:10:00Z,abc"
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (500, 495, 5)
    assert_counts(general)


def test_plain_prometheus_bulk_path_equals_the_general_reader(tmp_path, monkeypatch):
    from kirz.ingest import power

    series = [{"metric": {"__name__": "node_power_watts", "instance": f"gpu{n:03d}:9100"},
               "values": [[1772323200 + 10 * k + (0.5 if n == 2 else 0), f"{100 + n + k * 0.25}"] for k in range(300)]}
              for n in range(1, 6)]
    series.append({"metric": {"__name__": "node_power_watts", "node": "cpu01"}, "values": []})
    doc = {"status": "success", "data": {"resultType": "matrix", "result": series}}
    path = tmp_path / "p.json"
    path.write_bytes(orjson.dumps(doc))
    assert power._plain_prometheus(path.read_bytes(), None) is not None
    plain = parse(path, CTX)
    monkeypatch.setattr(power, "_plain_prometheus", lambda data, counter: None)
    general = parse(path, CTX)
    assert plain.tables["node_power"].equals(general.tables["node_power"])
    assert plain.rows_read == general.rows_read == 1500 and not plain.quarantine
    # not plain (a duplicate, a NaN, a counter): the general reader decides, sample by sample
    for k, bad in ((3, [1772323200, "7"]), (4, [1772323240, "NaN"])):
        series[0]["values"][k] = bad
        path.write_bytes(orjson.dumps(doc))
        assert power._plain_prometheus(path.read_bytes(), None) is None
    series[0]["values"][3] = [1772323230, "7"]
    series[0]["values"][4] = [1772323240, "7"]
    series[0]["metric"]["__name__"] = "kepler_node_platform_joules_total"
    path.write_bytes(orjson.dumps(doc))
    assert power._plain_prometheus(path.read_bytes(), None) is None
