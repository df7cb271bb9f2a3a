"""The analysts' snapshot: complete, atomic, read-only, DuckDB-1.x-compatible, pruned."""

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from kirz.config import load_settings
from kirz.publish import gated_publish, latest_snapshot, publish_snapshot
from kirz.validation import GateBlocked
from kirz.warehouse import open_warehouse


@pytest.fixture
def settings(tmp_path):
    s = load_settings(env={}, home=tmp_path / "home", pseudonym_key="k")
    with open_warehouse(s.warehouse_path) as con:
        con.execute("create schema marts; create schema intermediate")
        con.execute(
            "create table marts.fct_usage_daily as select * from (values "
            "(date '2026-10-30', 'C-1', 'cooperation', 10.0), (date '2026-11-02', 'C-1', 'cooperation', 5.0)) "
            "t(day, contract_id, usage_area, gpu_hours)"
        )
        con.execute(
            "create table marts.fct_job_usage as select 'c:1' as job_key, "
            "timestamptz '2026-10-31 23:30:00+00' as start_at, 2.0 as gpu_hours"
        )
        con.execute("create table intermediate.int_secret as select 1 as x")
    return s


def test_snapshot_holds_marts_and_audit_not_intermediate(settings):
    pub = publish_snapshot(settings, run_id="r1")
    assert pub.latest.exists() and pub.snapshot.name == "kirz-r1.duckdb"
    con = duckdb.connect(str(latest_snapshot(settings)), read_only=True)
    try:
        assert con.execute("select sum(gpu_hours) from marts.fct_usage_daily").fetchall() == [(15.0,)]
        schemas = {r[0] for r in con.execute("select schema_name from duckdb_tables()").fetchall()}
        assert schemas == {"marts", "audit", "meta"}
        assert con.execute("select run_id from meta.snapshot").fetchall() == [("r1",)]
    finally:
        con.close()
    assert not os.access(pub.snapshot, os.W_OK) or os.geteuid() == 0
    assert oct(pub.snapshot.stat().st_mode & 0o777) == "0o444"
    assert json.loads((settings.published_dir / "LATEST").read_text())["snapshot"] == "kirz-r1.duckdb"


def test_snapshot_is_written_in_v1_4_storage(settings):
    pub = publish_snapshot(settings, run_id="r1")
    header = pub.snapshot.read_bytes()[8:20]
    assert header[:4] == b"DUCK"
    version = int.from_bytes(header[4:12], "little")
    assert version < 999  # 999 = DuckDB 2.0 storage, unreadable by DuckDB 1.x


def test_parquet_partitions_by_local_month(settings):
    pub = publish_snapshot(settings, run_id="r1")
    parts = sorted(p.name for p in (pub.parquet_dir / "fct_usage_daily").iterdir())
    assert parts == ["month_partition=2026-10", "month_partition=2026-11"]
    # 2026-10-31 23:30 UTC is 2026-11-01 00:30 in Berlin: a November job
    assert [p.name for p in (pub.parquet_dir / "fct_job_usage").iterdir()] == ["month_partition=2026-11"]


def test_latest_moves_atomically_and_old_snapshots_are_pruned(settings):
    for i in range(4):
        publish_snapshot(settings, run_id=f"r{i}", keep=2)
    snaps = sorted(p.name for p in (settings.published_dir / "snapshots").glob("kirz-*.duckdb"))
    assert snaps == ["kirz-r2.duckdb", "kirz-r3.duckdb"]
    assert os.path.samefile(settings.published_dir / "latest.duckdb", settings.published_dir / "snapshots" / "kirz-r3.duckdb")
    assert not list((settings.published_dir / "snapshots").glob(".*tmp"))


def test_an_unvalidated_warehouse_is_not_published(settings):
    with pytest.raises(GateBlocked) as blocked:
        gated_publish(settings, run_id="r1")
    decision = blocked.value.decision
    assert (decision.status, decision.period_start.isoformat(), decision.period_end.isoformat()) == (
        "blocked", "2026-10-30", "2026-11-02")
    assert "no data-quality results cover this period" in decision.message
    assert not settings.published_dir.exists()


def test_a_forced_publish_carries_its_override_into_the_snapshot(settings):
    decision, pub = gated_publish(settings, run_id="r1", force=True, reason="first delivery, checks follow", by="ops")
    assert decision.status == "overridden"
    override_id = decision.override["override_id"]
    con = duckdb.connect(str(pub.latest), read_only=True)
    try:
        assert con.execute("select gate_status, gate_override_id from meta.snapshot").fetchall() == [
            ("overridden", override_id)]
        recorded = con.execute("select override_id, command, blocking, reason, overridden_by from audit.gate_overrides")
        assert recorded.fetchall() == [(override_id, "publish", "no data-quality results cover 2026-10-30..2026-11-02",
                                        "first delivery, checks follow", "ops")]
    finally:
        con.close()


def test_no_snapshot_yet_is_a_clear_error(tmp_path):
    s = load_settings(env={}, home=tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="no published snapshot"):
        latest_snapshot(s)


@pytest.fixture(scope="module")
def duckdb_1x(tmp_path_factory):
    """DuckDB 1.4 from the package registry, installed beside (not into) the project's env."""
    target = tmp_path_factory.mktemp("duckdb14")
    uv = Path(sys.executable).with_name("uv")
    subprocess.run(
        [str(uv), "pip", "install", "-q", "--target", str(target), "duckdb>=1.4,<1.5"],
        check=True, capture_output=True, timeout=300,
    )
    return target


def test_duckdb_1x_opens_the_snapshot(settings, duckdb_1x):
    pub = publish_snapshot(settings, run_id="r1")
    code = (
        "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
        "print(duckdb.__version__, con.execute('select sum(gpu_hours) from marts.fct_usage_daily').fetchall()[0][0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(pub.latest)],
        env={**os.environ, "PYTHONPATH": str(duckdb_1x)}, capture_output=True, text=True, check=True,
    ).stdout.split()
    assert out[0].startswith("1.4.") and float(out[1]) == 15.0
