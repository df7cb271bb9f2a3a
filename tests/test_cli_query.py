"""`kirz query` and `kirz export` against the published snapshot."""

import json
import subprocess
import sys
import time

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from kirz.analyst import QueryError, period_bounds
from kirz.cli import app
from kirz.config import load_settings
from kirz.publish import publish_snapshot
from kirz.warehouse import open_warehouse

runner = CliRunner()


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "home"
    s = load_settings(env={}, home=home, pseudonym_key="k")
    with open_warehouse(s.warehouse_path) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.fct_usage_daily as select * from (values "
            "(date '2026-09-30', 'C-1', 'cooperation', 4.0), (date '2026-10-01', 'C-1', 'cooperation', 10.0), "
            "(date '2026-10-31', 'C-2', 'education', 6.0), (date '2026-11-01', 'C-2', 'education', 1.5)) "
            "t(day, contract_id, usage_area, gpu_hours)"
        )
        con.execute(
            "create table marts.fct_impact_kpis as select * from (values "
            "('quarter', '2026-Q4', 'all', 'gpu_hours', 17.5, 'h'), ('month', '2026-10', 'all', 'gpu_hours', 16.0, 'h')) "
            "t(period_type, period, usage_area, kpi, value, unit)"
        )
    publish_snapshot(s, run_id="t1")
    return home


def invoke(*args):
    return runner.invoke(app, list(args))


def test_query_csv_and_json(home):
    sql = "select usage_area, sum(gpu_hours) as h from marts.fct_usage_daily group by 1 order by 1"
    r = invoke("query", sql, "--format", "csv", "--home", str(home))
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == ['"usage_area","h"', '"cooperation",14.0', '"education",7.5']
    r = invoke("query", sql, "--format", "json", "--home", str(home))
    assert json.loads(r.stdout) == [{"usage_area": "cooperation", "h": 14.0}, {"usage_area": "education", "h": 7.5}]


def test_query_from_file_to_parquet(home, tmp_path):
    f = tmp_path / "q.sql"
    f.write_text("select count(*) as n from marts.fct_usage_daily")
    out = tmp_path / "r.parquet"
    r = invoke("query", "-f", str(f), "--format", "parquet", "--out", str(out), "--home", str(home))
    assert r.exit_code == 0, r.output
    assert pd.read_parquet(out)["n"].tolist() == [4]


def test_bad_sql_is_a_clear_error(home):
    r = invoke("query", "select nope from marts.fct_usage_daily", "--home", str(home))
    assert r.exit_code == 1
    assert "BinderException" in r.output and "nope" in r.output


def test_the_snapshot_cannot_be_written(home):
    r = invoke("query", "delete from marts.fct_usage_daily", "--home", str(home))
    assert r.exit_code == 1 and "read-only" in r.output.lower()


def test_query_works_while_the_pipeline_writes(home, tmp_path):
    """A second process holds the live warehouse open for writing; queries still answer."""
    s = load_settings(env={}, home=home)
    writer = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time\n"
         "con = duckdb.connect(sys.argv[1])\n"
         "con.execute('create table if not exists marts.busy (i int)')\n"
         "print('locked', flush=True)\n"
         "for i in range(200):\n"
         "    con.execute('insert into marts.busy values (?)', [i]); time.sleep(0.02)\n",
         str(s.warehouse_path)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "locked"
        with pytest.raises(duckdb.IOException):
            duckdb.connect(str(s.warehouse_path), read_only=True)  # the live file is locked
        for _ in range(5):
            r = invoke("query", "select sum(gpu_hours) from marts.fct_usage_daily", "--format", "csv", "--home", str(home))
            assert r.exit_code == 0, r.output
            assert r.stdout.splitlines()[1] == "21.5"
        assert writer.poll() is None  # the writer was never blocked or stopped
    finally:
        writer.wait(timeout=30)
    assert writer.returncode == 0


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_export_a_month(home, tmp_path, fmt):
    out = tmp_path / f"oct.{fmt}"
    r = invoke("export", "--mart", "fct_usage_daily", "--period", "2026-10", "--format", fmt, "--out", str(out), "--home", str(home))
    assert r.exit_code == 0, r.output
    df = {"csv": pd.read_csv, "parquet": pd.read_parquet, "xlsx": pd.read_excel}[fmt](out)
    assert sorted(df["gpu_hours"].tolist()) == [6.0, 10.0]


def test_export_kpis_by_period_and_unknown_mart(home, tmp_path):
    r = invoke("export", "--mart", "fct_impact_kpis", "--period", "2026-Q4", "--format", "csv", "--out", str(tmp_path / "k.csv"), "--home", str(home))
    assert r.exit_code == 0
    assert pd.read_csv(tmp_path / "k.csv")["value"].tolist() == [17.5]
    r = invoke("export", "--mart", "fct_nope", "--home", str(home))
    assert r.exit_code == 1 and "fct_usage_daily" in r.output


def test_period_bounds():
    from datetime import date

    assert period_bounds("2026-Q4") == (date(2026, 10, 1), date(2027, 1, 1))
    assert period_bounds("2026-12") == (date(2026, 12, 1), date(2027, 1, 1))
    assert period_bounds("2026") == (date(2026, 1, 1), date(2027, 1, 1))
    with pytest.raises(QueryError):
        period_bounds("Q4-2026")
