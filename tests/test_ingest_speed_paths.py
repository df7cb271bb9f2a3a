"""The bulk paths of the large sources give exactly what their general readers give.

- a plain power CSV is read by DuckDB straight into ``raw.node_power`` inside the file's
  transaction (``Format.load``): the same rows, line numbers and quarantine as the parser, and a
  file that is not plain after all leaves no trace of the attempt;
- a compact DCGM answer is read by cutting its ``values`` arrays out of the text: the same
  rows and quarantine as the JSON reader;
- Slurm's bulk split keeps its quirks: a JobName holding ``|`` and a job in the repeated autumn
  hour among well-shaped lines.
"""

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pytest

from kirz.config import load_settings
from kirz.ingest import csv_readers, gpu, power
from kirz.ingest.base import ParseContext, pseudonymise
from kirz.ingest.loader import ingest_paths
from kirz.warehouse import open_warehouse

FIX = Path(__file__).parent / "fixtures"
KEY = "k"
ROW_COLUMNS = "line_no, sample_at, node, watts, file_sha256"


def _settings(tmp_path, name):
    return load_settings(env={}, home=tmp_path / name, pseudonym_key=KEY)


def _loaded(settings):
    with open_warehouse(settings.warehouse_path) as con:
        rows = con.execute(f"select {ROW_COLUMNS} from raw.node_power order by line_no").fetchall()
        quarantine = con.execute(
            "select source, line_no, raw_text, reason, file_sha256 from raw.quarantine order by line_no"
        ).fetchall()
        audit = con.execute(
            "select ingest_id, status, format, rows_read, rows_loaded, rows_quarantined, message "
            "from audit.ingests order by ingest_id"
        ).fetchall()
    return rows, quarantine, audit


def _power_csv(path: Path, lines: list[str], end: str = "\n") -> Path:
    path.write_bytes(("\n".join(lines) + end).encode("utf-8", errors="surrogateescape"))
    return path


def _both_ways(tmp_path, monkeypatch, path: Path):
    """(rows, quarantine, audit) loaded by the loader with the bulk load and with the parser only."""
    used = []
    real = power.load_measurement_csv

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        used.append(out is not None)
        return out

    monkeypatch.setattr(power, "load_measurement_csv", spy)
    bulk = _settings(tmp_path, "bulk")
    ingest_paths(bulk, "power", [path])
    monkeypatch.setattr(power, "load_measurement_csv", lambda *a, **k: None)
    parser = _settings(tmp_path, "parser")
    ingest_paths(parser, "power", [path])
    monkeypatch.undo()
    return _loaded(bulk), _loaded(parser), used


def _lines(n: int) -> list[str]:
    lines = ["timestamp,node,watts"]
    lines += [f"2026-03-01T00:{k // 60 % 60:02d}:{k % 60:02d}Z,gpu{k % 7:03d},{100 + k * 0.1:.1f}" for k in range(n)]
    return lines


def test_power_csv_loaded_in_one_statement_quarantines_failed_casts_with_line_and_reason(tmp_path, monkeypatch):
    lines = _lines(600)
    lines[40] = "2026-03-01T00:10:00Z,gpu001,abc"
    lines[77] = "yesterday,gpu002,12.5"
    lines[90] = "2026-03-01T00:10:00Z,,12.5"
    lines[120] = "2026-03-01T00:10:00+01:00,gpu003,NaN"
    lines[121] = "1772323200,gpu003,-inf"
    lines[122] = "1772323200.5,gpu003,7"            # epoch seconds are read
    lines[123] = "2026-03-01T00:10:00,gpu004,1e3"   # naive ISO is UTC
    path = _power_csv(tmp_path / "p.csv", lines)
    (rows, quarantine, audit), parsed, used = _both_ways(tmp_path, monkeypatch, path)
    assert used == [True]
    assert (rows, quarantine, audit) == parsed
    assert [(q[1], q[2], q[3]) for q in quarantine] == [
        (41, "2026-03-01T00:10:00Z,gpu001,abc", "watts: 'abc' is not a number"),
        (78, "yesterday,gpu002,12.5", "timestamp: 'yesterday' is not ISO 8601 or epoch seconds"),
        (91, "2026-03-01T00:10:00Z,,12.5", "node: empty"),
        (121, "2026-03-01T00:10:00+01:00,gpu003,NaN", "watts: 'NaN' is NaN, not a measurement"),
        (122, "1772323200,gpu003,-inf", "watts: '-inf' is not finite"),
    ]
    assert all(q[0] == "power" for q in quarantine)
    assert audit == [(1, "loaded", "power_csv", 600, 595, 5, None)]
    by_line = {r[0]: r for r in rows}
    assert by_line[123][1] == datetime(2026, 3, 1, 0, 0, 0, 500000, tzinfo=timezone.utc)
    assert by_line[124][1:4] == (datetime(2026, 3, 1, 0, 10, tzinfo=timezone.utc), "gpu004", 1000.0)
    assert len(rows) == 595 and sorted(by_line) == [r[0] for r in rows]


def test_power_csv_columns_in_any_order_and_a_cut_last_line(tmp_path, monkeypatch):
    lines = ["node,watts,timestamp"] + [f"gpu{k % 3:03d},{k}.5,{1772323200 + k}" for k in range(50)]
    path = _power_csv(tmp_path / "p.csv", lines, end="")
    (rows, quarantine, audit), parsed, used = _both_ways(tmp_path, monkeypatch, path)
    assert used == [True] and (rows, quarantine, audit) == parsed
    assert audit[0][3:] == (50, 50, 0, "last line has no line break: the file may be truncated")
    assert rows[0][:4] == (2, datetime(2026, 3, 1, tzinfo=timezone.utc), "gpu000", 0.5)


@pytest.mark.parametrize("bad", [
    "",                                              # an empty line
    "2026-03-01T00:00:00Z,gpu001,1,2",               # a field too many
    "2026-03-01T00:00:00Z,gpu001",                   # a field too few
    "2026-03-01T00:00:00Z,gpu\udcff\udcfe,1",        # invalid UTF-8
])
def test_a_csv_that_is_not_plain_after_all_goes_to_the_parser_leaving_no_trace(tmp_path, monkeypatch, bad):
    lines = _lines(300)
    lines[100] = bad
    path = _power_csv(tmp_path / "p.csv", lines)
    (rows, quarantine, audit), parsed, used = _both_ways(tmp_path, monkeypatch, path)
    assert used == [False]  # the bulk load gave the file back ...
    assert (rows, quarantine, audit) == parsed  # ... and nothing of its attempt stayed
    assert audit[0][0] == 1 and len(rows) == 299
    assert [q[1] for q in quarantine] == ([101] if bad else [])


def test_power_csv_with_blanks_or_quotes_is_for_the_parser(tmp_path, monkeypatch):
    lines = _lines(20)
    lines[5] = '"2026-03-01T00:00:05Z", gpu005 ,100.5'
    path = _power_csv(tmp_path / "p.csv", lines)
    (rows, quarantine, audit), parsed, used = _both_ways(tmp_path, monkeypatch, path)
    assert used == [False] and (rows, quarantine, audit) == parsed and len(rows) == 20


def test_duplicate_file_is_not_loaded_twice_by_the_bulk_load(tmp_path):
    path = _power_csv(tmp_path / "p.csv", _lines(30))
    settings = _settings(tmp_path, "home")
    first, again = ingest_paths(settings, "power", [path, path])
    assert (first.status, first.rows_loaded, again.status) == ("loaded", 30, "duplicate")
    rows, _, _ = _loaded(settings)
    assert len(rows) == 30


def test_load_rolls_back_with_the_file(tmp_path, monkeypatch):
    """A failure after the bulk insert (here: the audit row) leaves no row of the file."""
    from kirz.ingest import loader

    path = _power_csv(tmp_path / "p.csv", _lines(30))
    settings = _settings(tmp_path, "home")
    real = loader.FileResult

    class Broken(real):
        def __setattr__(self, name, value):
            if name == "duration_s":
                raise RuntimeError("boom")
            super().__setattr__(name, value)

    monkeypatch.setattr(loader, "FileResult", Broken)
    with pytest.raises(RuntimeError, match="boom"):
        ingest_paths(settings, "power", [path])
    monkeypatch.undo()
    rows, quarantine, audit = _loaded(settings)
    assert rows == [] and quarantine == [] and audit == []


# --- DCGM: the cut-out bulk read equals the JSON reader ---------------------------------------


def _dcgm_compact(tmp_path: Path) -> Path:
    """The quirks fixture without its series that has no values list, as Prometheus writes it."""
    doc = json.loads((FIX / "gpu" / "dcgm_quirks.json").read_text())
    doc["data"]["result"] = [s for s in doc["data"]["result"] if isinstance(s.get("values"), list)]
    path = tmp_path / "dcgm.json"
    path.write_bytes(orjson.dumps(doc))
    return path


def test_dcgm_bulk_read_equals_the_json_reader_with_every_quarantine_reason(tmp_path, monkeypatch):
    path = _dcgm_compact(tmp_path)
    data = path.read_bytes()
    assert power.cut_series(data) is not None
    bulk = gpu._parse(path, data)
    monkeypatch.setattr(gpu, "cut_series", lambda data: None)
    general = gpu._parse(path, data)
    assert bulk.tables["gpu_samples"].equals(general.tables["gpu_samples"])
    assert bulk.quarantine == general.quarantine and bulk.rows_read == general.rows_read
    reasons = {q.line_no: q.reason for q in bulk.quarantine}
    assert any(r.startswith("duplicate sample") for r in reasons.values())
    assert any(r == "value: NaN is not a reading" for r in reasons.values())
    assert any(r == "value: a DCGM blank marker (no reading)" for r in reasons.values())
    assert any("is not one kirz reads" in r for r in reasons.values())
    nan = next(q for q in bulk.quarantine if q.reason == "value: NaN is not a reading")
    assert json.loads(nan.raw_text)["sample"][1] == "NaN"


def test_dcgm_sample_of_another_shape_goes_to_the_json_reader(tmp_path):
    path = _dcgm_compact(tmp_path)
    doc = json.loads(path.read_text())
    doc["data"]["result"][0]["values"][1] = [doc["data"]["result"][0]["values"][1][0]]  # no value
    path.write_bytes(orjson.dumps(doc))
    parsed = gpu.parse(path, ParseContext())
    assert "sample: not a [timestamp, \"value\"] pair" in {q.reason for q in parsed.quarantine}


def test_dcgm_bulk_ingest_loads_what_the_json_reader_loads(tmp_path, monkeypatch):
    path = _dcgm_compact(tmp_path)
    cols = "line_no, sample_at, node, gpu_index, uuid, model, util_pct, power_w, fb_used_mib, hpc_job"
    out = []
    for name in ("bulk", "general"):
        settings = _settings(tmp_path, name)
        (res,) = ingest_paths(settings, "gpu", [path])
        with open_warehouse(settings.warehouse_path) as con:
            out.append((res.rows_read, res.rows_loaded, res.rows_quarantined,
                        con.execute(f"select {cols} from raw.gpu_samples order by line_no").fetchall(),
                        con.execute("select line_no, raw_text, reason from raw.quarantine order by line_no").fetchall()))
        monkeypatch.setattr(gpu, "cut_series", lambda data: None)
    assert out[0] == out[1]


def test_ordered_packs_keys_or_falls_back_to_lexsort():
    rng = np.random.default_rng(7)
    n = 5000
    idx = np.arange(1, n + 1) * 3
    group = rng.integers(0, 50, n)
    code = rng.integers(0, 3, n)
    ts = rng.integers(0, 20, n) * 10_000_000
    positions = np.flatnonzero(rng.random(n) > 0.1)
    expected = positions[np.lexsort((idx[positions], ts[positions], code[positions], group[positions]))]
    assert (gpu._ordered(positions, idx, group, code, ts) == expected).all()
    wide = ts + (rng.integers(0, 2, n) << 61)  # too wide to pack: lexsort
    expected = positions[np.lexsort((idx[positions], wide[positions], group[positions]))]
    assert (gpu._ordered(positions, idx, group, wide) == expected).all()
    assert len(gpu._ordered(positions[:0], idx, group)) == 0


def test_arrow_columns_from_buffers():
    col = csv_readers.numpy_column(np.array([1.5, 2.0, 3.0]), pa.float64(), valid=np.array([True, False, True]))
    assert col.to_pylist() == [1.5, None, 3.0]
    assert csv_readers.string_column(["a", None, "äb", ""]).to_pylist() == ["a", None, "äb", ""]
    assert list(csv_readers.numpy_values(col.slice(1))) == [2.0, 3.0]
    assert list(csv_readers.numpy_bools(pa.array([True, False, True, True]).slice(1))) == [False, True, True]
    for values, typ in (([1, None, 3], pa.int32()), ([1.5, None], pa.float64()), ([True, None, False], pa.bool_()),
                        (["a", None, ""], pa.string()), ([["a", "b"], [], None], pa.list_(pa.string())),
                        ([1_700_000_000_000_000, None], pa.timestamp("us", tz="UTC"))):
        built = csv_readers.arrow_column(values, typ)
        assert built.type == typ and built.equals(pa.array(values, typ)), (values, typ)
    assert csv_readers.arrow_scalar(None, pa.string()).as_py() is None


def test_bulk_reads_do_not_import_pandas(tmp_path):
    """pyarrow's Python conversions import pandas (0.2 s of an ingest process); the bulk paths
    build their arrays from buffers."""
    import subprocess
    import sys

    csv = _power_csv(tmp_path / "p.csv", _lines(50))
    dcgm = _dcgm_compact(tmp_path)
    sacct = tmp_path / "s.txt"
    sacct.write_text("JobID|JobIDRaw|JobName|User|State|Start|End|ElapsedRaw|NodeList\n"
                     "7|7|x|ann|COMPLETED|2026-10-24T10:00:00|2026-10-24T11:00:00|3600|gpu[01-02]\n")
    script = f"""
import sys
from pathlib import Path
from kirz.config import load_settings
from kirz.ingest.loader import ingest_paths
settings = load_settings(env={{}}, home=Path({str(tmp_path / "home")!r}), pseudonym_key="k")
for source, path in (("power", {str(csv)!r}), ("gpu", {str(dcgm)!r}), ("slurm", {str(sacct)!r})):
    (res,) = ingest_paths(settings, source, [path])
    assert res.status == "loaded", res
print("pandas" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stdout + out.stderr


# --- Slurm: the quirks among well-shaped lines ------------------------------------------------


def test_slurm_pipe_in_job_name_and_repeated_dst_hour_in_a_bulk_file(tmp_path):
    from kirz.ingest import slurm

    header = "JobID|JobIDRaw|JobName|User|Account|State|Submit|Start|End|ElapsedRaw|AllocTRES|NodeList"
    body = [f"{100 + k}|{100 + k}|train|ann|acc|COMPLETED|2026-10-24T10:00:00|2026-10-24T10:00:00|"
            f"2026-10-24T11:00:00|3600|cpu=4,gres/gpu=2|gpu[001-002,010]" for k in range(200)]
    body[50] = ("5005|5005|x|bob|acc|COMPLETED|2026-10-25T02:05:00|2026-10-25T02:10:00|2026-10-25T02:20:00|4200|"
                "cpu=1|gpu003")
    body[60] = "4004|4004|a|b|dave|acc|TIMEOUT|2026-10-24T10:00:00|2026-10-24T10:00:00|Unknown|3600|cpu=1|gpu004"
    path = tmp_path / "sacct.txt"
    path.write_text("\n".join([header] + body) + "\n")
    settings = _settings(tmp_path, "home")
    (res,) = ingest_paths(settings, "slurm", [path])
    assert (res.rows_read, res.rows_loaded, res.rows_quarantined) == (200, 200, 0)
    with open_warehouse(settings.warehouse_path) as con:
        rows = {r[0]: r for r in con.execute(
            "select job_id, job_name, user_pseudonym, start_at, end_at, elapsed_s, nodes, gpus, line_no "
            "from raw.slurm_jobs").fetchall()}
    utc = timezone.utc
    assert rows["5005"][3:6] == (datetime(2026, 10, 25, 0, 10, tzinfo=utc), datetime(2026, 10, 25, 1, 20, tzinfo=utc),
                                 4200)
    assert rows["4004"][1:3] == ("a|b", pseudonymise(KEY.encode(), "dave")) and rows["4004"][4] is None
    assert rows["100"][6:] == (["gpu001", "gpu002", "gpu010"], 2, 2)
    assert rows["4004"][8] == 62
    assert slurm.parse(path, ParseContext(pseudonym_key=KEY.encode())).rows_read == 200
