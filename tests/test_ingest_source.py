"""Sources declare themselves once (kirz.ingest.source); everything else derives from that."""

from datetime import date
from pathlib import Path

import yaml

from kirz.config import SOURCES, load_settings
from kirz.ingest.source import module_names, raw_columns, sources
from kirz.pipeline import INGEST_ORDER
from kirz.warehouse import RAW_COLUMNS, RAW_TABLES, open_warehouse

REPO = Path(__file__).resolve().parents[1]


def test_every_ingest_module_declares_a_source_named_like_it():
    assert set(module_names()) == set(sources()) == set(SOURCES)
    assert INGEST_ORDER == ("inventory", "contracts", "slurm", "power", "gpu", "meters", "certificates")
    assert sources()["slurm"].aliases == ("sacct",) and not sources()["slurm"].keeps_rejected_head
    assert sources()["gpu"].format_names == ("dcgm_prometheus_json",)


def test_the_raw_tables_are_the_declared_ones():
    assert RAW_COLUMNS == raw_columns()
    assert set(RAW_TABLES) == {t.name for s in sources().values() for t in s.tables}
    assert RAW_COLUMNS["gpu_samples"][:3] == [("sample_at", "timestamptz"), ("node", "varchar"), ("gpu_index", "integer")]
    assert RAW_COLUMNS["slurm_jobs"][-1] == ("gpu_util_ave_pct", "double")


def test_each_source_has_its_dag_file_landing_folder_and_dbt_source_tables(tmp_path):
    dbt_sources = yaml.safe_load((REPO / "dbt_project" / "models" / "staging" / "raw" / "_sources.yml").read_text())
    raw = {t["name"] for s in dbt_sources["sources"] if s["name"] == "raw" for t in s["tables"]}
    settings = load_settings(env={}, home=tmp_path)
    for name, source in sources().items():
        dag = (REPO / "dags" / f"kirz_ingest_{name}.py").read_text()
        assert f'ingest_dag("{name}", __doc__)' in dag, name
        assert settings.landing_for(name) == tmp_path / "landing" / name
        for table in source.tables:
            assert table.name in raw, table.name


def test_validation_windows_follow_the_declared_period_times(tmp_path):
    """The days an ingest touched come from every table with a period time: GPU samples too."""
    from kirz.validation import _period_tables, data_days, days_touched

    assert _period_tables() == {
        "slurm_jobs": "coalesce(start_at, submit_at, end_at, received_at)", "node_power": "sample_at",
        "gpu_samples": "sample_at", "meter_readings": "reading_at",
    }
    with open_warehouse(tmp_path / "kirz.duckdb") as con:
        con.execute(
            "insert into raw.gpu_samples (ingest_id, source_file, file_sha256, line_no, received_at, sample_at, node, "
            "gpu_index, util_pct) values (3, 'f', 's', 1, timestamptz '2026-10-21 00:00:00+00', "
            "timestamptz '2026-10-20 22:30:00+00', 'gpu001', 0, 50)"
        )
        # 22:30 UTC on 20 October is 00:30 on 21 October in Berlin (summer time)
        assert days_touched(con, "Europe/Berlin", 3, 3) == [date(2026, 10, 21)]
        assert days_touched(con, "Europe/Berlin", 4, 9) == []
        assert data_days(con, "Europe/Berlin", "raw") == (date(2026, 10, 21), date(2026, 10, 21))
