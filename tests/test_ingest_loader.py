"""The loader's promises, independent of any one format: idempotence, lineage, quarantine, audit."""

import re
import sys
import types
from dataclasses import replace
from datetime import datetime, timezone

import pyarrow as pa
import pytest

from kirz.config import load_settings
from kirz.ingest import loader
from kirz.ingest.base import FormatError, Parsed, Quarantined
from kirz.ingest.source import Format, sources
from kirz.warehouse import open_warehouse


def _fake_power_module():
    """A parser for a toy format: lines 'node,watts' after a 'toy' header; bad numbers quarantined."""
    mod = types.ModuleType("kirz_fake_power")

    def detect(head: bytes):
        return "toy" if head.startswith(b"toy") else None

    def parse(path, ctx):
        lines = path.read_text().splitlines()
        rows, quarantine = [], []
        for no, line in enumerate(lines[1:], start=2):
            node, _, watts = line.partition(",")
            try:
                rows.append((no, node, float(watts)))
            except ValueError:
                quarantine.append(Quarantined(no, line, f"watts {watts!r} is not a number"))
        t = pa.table(
            {
                "line_no": pa.array([r[0] for r in rows], pa.int64()),
                "sample_at": pa.array([datetime(2026, 1, 1, tzinfo=timezone.utc)] * len(rows), pa.timestamp("us", tz="UTC")),
                "node": [r[1] for r in rows],
                "watts": [r[2] for r in rows],
            }
        )
        return Parsed(format="toy", tables={"node_power": t}, quarantine=quarantine, rows_read=len(lines) - 1)

    mod.detect, mod.parse = detect, parse
    return mod


@pytest.fixture
def toy(monkeypatch, tmp_path):
    fake = _fake_power_module()
    monkeypatch.setitem(sys.modules, "kirz_fake_power", fake)
    # the power source with the toy format as its only one (the parser looked up at call time)
    toy_format = Format("toy", lambda head: fake.detect(head) == "toy", lambda path, ctx: fake.parse(path, ctx))
    monkeypatch.setitem(sources(), "power", replace(sources()["power"], formats=(toy_format,)))
    settings = load_settings(env={}, home=tmp_path / "home", pseudonym_key="k")
    return settings, tmp_path


def _audit(settings):
    with open_warehouse(settings.warehouse_path) as con:
        return con.execute(
            "select status, rows_read, rows_loaded, rows_quarantined from audit.ingests order by ingest_id"
        ).fetchall()


def test_load_keeps_lineage_and_quarantines_bad_rows(toy):
    settings, tmp = toy
    f = tmp / "a.toy"
    f.write_text("toy\ngpu001,100\ngpu002,abc\ngpu003,300.5\n")
    (res,) = loader.ingest_paths(settings, "power", [f])
    assert (res.status, res.rows_read, res.rows_loaded, res.rows_quarantined) == ("loaded", 3, 2, 1)
    with open_warehouse(settings.warehouse_path) as con:
        rows = con.execute("select node, watts, line_no, source_file, file_sha256 from raw.node_power order by line_no").fetchall()
        q = con.execute("select source, source_file, line_no, raw_text, reason from raw.quarantine").fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [("gpu001", 100.0, 2), ("gpu003", 300.5, 4)]
    assert rows[0][3] == str(f) and len(rows[0][4]) == 64
    assert q == [("power", str(f), 3, "gpu002,abc", "watts 'abc' is not a number")]


def test_same_file_again_adds_nothing_and_says_so(toy):
    settings, tmp = toy
    f = tmp / "a.toy"
    f.write_text("toy\ngpu001,100\n")
    loader.ingest_paths(settings, "power", [f])
    (again,) = loader.ingest_paths(settings, "power", [f])
    assert again.status == "duplicate" and "already loaded" in again.message
    with open_warehouse(settings.warehouse_path) as con:
        assert con.execute("select count(*) from raw.node_power").fetchall()[0][0] == 1
    assert _audit(settings) == [("loaded", 1, 1, 0), ("duplicate", 0, 0, 0)]


def test_a_corrected_reexport_adds_its_rows(toy):
    settings, tmp = toy
    (tmp / "a.toy").write_text("toy\ngpu001,100\n")
    (tmp / "b.toy").write_text("toy\ngpu001,100\ngpu002,50\n")
    loader.ingest_paths(settings, "power", [tmp / "a.toy", tmp / "b.toy"])
    with open_warehouse(settings.warehouse_path) as con:
        assert con.execute("select count(*), count(distinct ingest_id) from raw.node_power").fetchall() == [(3, 2)]


def test_a_file_of_the_wrong_kind_is_rejected_whole_and_kept(toy):
    settings, tmp = toy
    f = tmp / "wrong.txt"
    f.write_text("JobID|State\n1|COMPLETED\n")
    (res,) = loader.ingest_paths(settings, "power", [f])
    assert res.status == "rejected" and "not a power file" in res.message and str(f) in res.message
    with open_warehouse(settings.warehouse_path) as con:
        q = con.execute("select raw_text, reason from raw.quarantine").fetchall()
    assert q == [("JobID|State\n1|COMPLETED\n", "file rejected: not a power file of any known format")]
    assert _audit(settings) == [("rejected", 0, 0, 1)]


def test_a_parser_failure_rolls_the_file_back(toy, monkeypatch):
    settings, tmp = toy
    f = tmp / "a.toy"
    f.write_text("toy\ngpu001,100\n")

    def broken(path, ctx):
        return Parsed(format="toy", tables={}, quarantine=[], rows_read=5)  # counts do not add up

    monkeypatch.setattr(sys.modules["kirz_fake_power"], "parse", broken)
    with pytest.raises(RuntimeError, match="counting does not hold"):
        loader.ingest_paths(settings, "power", [f])
    assert _audit(settings) == []


def test_unknown_source_and_missing_path_are_clear_errors(toy):
    settings, tmp = toy
    expected = ("unknown source 'weather'; expected one of inventory, contracts (or contract), slurm (or sacct), "
                "power, gpu, meters (or meter), certificates (or certificate)")
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        loader.ingest_paths(settings, "weather", [tmp])
    with pytest.raises(FileNotFoundError, match="nope"):
        loader.ingest_paths(settings, "power", [tmp / "nope"])


def test_folders_are_walked_in_order_without_hidden_files(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.csv").write_text("x")
    (tmp_path / "1.csv").write_text("x")
    (tmp_path / ".hidden.csv").write_text("x")
    (tmp_path / "manifest.json").write_text("{}")
    assert [p.name for p in loader.iter_files([tmp_path])] == ["1.csv", "2.csv"]


def test_sacct_is_an_alias_of_slurm():
    assert loader.canonical_source("sacct") == "slurm"
    with pytest.raises(FormatError):
        raise FormatError("f.txt", "bad", 3)


def test_a_contract_taking_an_account_held_by_another_is_rejected_naming_both(tmp_path):
    from pathlib import Path

    fixtures = Path(__file__).parent / "fixtures" / "contracts"
    settings = load_settings(env={}, home=tmp_path / "home", pseudonym_key="k")
    (ok,) = loader.ingest_paths(settings, "contracts", [fixtures / "C-2026-014.yaml"])
    assert (ok.status, ok.rows_loaded) == ("loaded", 2)
    rival = tmp_path / "C-2026-099.yaml"
    rival.write_text(
        (fixtures / "C-2026-014.yaml").read_text()
        .replace("C-2026-014", "C-2026-099")
        .replace("P-0042", "P-0099")
        .replace("accounts: [mrob-ai]", "accounts: [other-ai]")
    )
    (bad,) = loader.ingest_paths(settings, "contracts", [rival])
    assert bad.status == "rejected"
    assert "C-2026-014" in bad.message and "C-2026-099" in bad.message and "mrob-edu" in bad.message
    with open_warehouse(settings.warehouse_path) as con:
        assert con.execute("select count(distinct contract_id) from raw.contract_versions").fetchall() == [(1,)]
        assert con.execute("select count(*) from raw.quarantine where source_file = ?", [str(rival)]).fetchall() == [(1,)]
    # the same contract delivered again with a correction is no conflict with itself
    fixed = tmp_path / "C-2026-014-corrected.yaml"
    fixed.write_text((fixtures / "C-2026-014.yaml").read_text().replace("price_eur_per_gpu_hour: 1.20", "price_eur_per_gpu_hour: 1.25"))
    (again,) = loader.ingest_paths(settings, "contracts", [fixed])
    assert again.status == "loaded"


def test_a_rejected_slurm_file_keeps_no_raw_text(tmp_path):
    settings = load_settings(env={}, home=tmp_path / "home", pseudonym_key="k")
    f = tmp_path / "not-sacct.txt"
    f.write_text("hello alice, this is not accounting\n")
    (res,) = loader.ingest_paths(settings, "sacct", [f])
    assert res.status == "rejected"
    with open_warehouse(settings.warehouse_path) as con:
        assert con.execute("select raw_text, reason like 'file rejected:%' from raw.quarantine").fetchall() == [(None, True)]
