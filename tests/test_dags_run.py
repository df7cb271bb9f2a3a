"""Each DAG through ``dag.test()`` on a small synthetic centre, checked against the generator.

One chain, run once for the module: the ingest DAG of every source, the transform, the publish. Then
re-runs (idempotence) and a bad delivery that the data-quality gate must stop at publishing
while ingestion and the transform go on.
"""

import json
import os
import shutil
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

# Airflow reads its configuration once, at import: a throwaway home, the repo's DAG folder.
os.environ.setdefault("KIRZ_TEST_AIRFLOW_HOME", tempfile.mkdtemp(prefix="kirz-airflow-test-"))
os.environ["AIRFLOW_HOME"] = os.environ["KIRZ_TEST_AIRFLOW_HOME"]
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).resolve().parents[1] / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(Path(__file__).resolve().parents[1] / "plugins")

import duckdb  # noqa: E402
import pytest  # noqa: E402

from kirz.config import SOURCES, load_settings  # noqa: E402
from recipients_subset import small_recipients  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
from kirz.pipeline import INGEST_ORDER as ORDER  # noqa: E402  (every declared source)
from kirz.warehouse import RAW_TABLES  # noqa: E402
# publish runs "on" these instants: as of 2026-11-02 the latest complete periods are 2026-10, 2026-Q3, 2025
PUBLISH_AT = [datetime(2026, 11, 2, 6, 0, tzinfo=timezone.utc) + timedelta(hours=h) for h in range(3)]
pytestmark = pytest.mark.airflow


def _states(dr) -> dict[str, str]:
    return {ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]": str(ti.state)
            for ti in dr.get_task_instances()}


def _raw_counts(settings) -> dict[str, int]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return {t: con.execute(f"select count(*) from raw.{t}").fetchall()[0][0] for t in RAW_TABLES}
    finally:
        con.close()


def _query(path, sql, params=None):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _report_files(settings) -> dict[str, float]:
    root = settings.reports_dir
    return {str(p.relative_to(root)): p.stat().st_mtime for p in root.rglob("*") if p.is_file()} if root.exists() else {}


@pytest.fixture(scope="module")
def centre(tmp_path_factory):
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.db import resetdb

    from kirz.airflow_local import drop_demo_data

    home = tmp_path_factory.mktemp("kirz-home")
    saved = {k: os.environ.get(k) for k in ("KIRZ_HOME", "KIRZ_CONFIG", "KIRZ_PSEUDONYM_KEY")}
    os.environ["KIRZ_HOME"] = str(home)
    os.environ.pop("KIRZ_CONFIG", None)
    os.environ.pop("KIRZ_PSEUDONYM_KEY", None)
    try:
        settings = load_settings()
        settings.pseudonym_key_bytes(create=True)
        landed = drop_demo_data(settings, nodes=8, days=2, interval_s=300)
        manifest = json.loads((home / "synth-manifest.json").read_text())
        partners = small_recipients(home, settings.landing_for("contracts"))
        settings = load_settings()
        resetdb()
        bag = DagBag(dag_folder=str(REPO / "dags"))
        assert bag.import_errors == {}
        runs = {}
        for source in ORDER:
            runs[source] = bag.get_dag(f"kirz_ingest_{source}").test()
        raw_after_ingest = _raw_counts(settings)
        runs["transform"] = bag.get_dag("kirz_transform").test()
        runs["publish"] = bag.get_dag("kirz_publish").test(run_after=PUBLISH_AT[0])
        yield SimpleNamespace(home=home, settings=settings, manifest=manifest, landed=landed, bag=bag,
                              runs=runs, raw_after_ingest=raw_after_ingest, partners=partners)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_ingest_dags_load_every_landed_file_into_raw(centre):
    for source in ORDER:
        dr = centre.runs[source]
        assert str(dr.state) == "success", source
        assert _states(dr) == {"ingest": "success"}, source
    # 31 contracts, 4 power (CSV and Prometheus per day), 4 meters (kWh and other units per day),
    # 2 sacct, 2 DCGM (one per day), the inventory and one certificate ledger
    assert len(centre.landed) == centre.manifest["totals"]["files"] == 45
    assert centre.raw_after_ingest == centre.manifest["raw_rows"]
    for source in SOURCES:
        assert not any(p.is_file() for p in centre.settings.landing_for(source).rglob("*")), source
    archived = [p for p in (centre.home / "archive").rglob("*") if p.is_file()]
    assert len(archived) == 45
    assert not (centre.home / "rejected").exists()


def test_transform_builds_the_marts_the_generator_expects(centre):
    dr = centre.runs["transform"]
    assert _states(dr) == {"validate_raw": "success", "dbt_build": "success", "validate_marts": "success"}
    wh = centre.settings.warehouse_path
    gpu = dict(_query(wh, "select usage_area, sum(gpu_hours) from marts.fct_usage_daily group by 1"))
    for area, truth in centre.manifest["truth"]["by_usage_area"].items():
        assert gpu.get(area, 0.0) == pytest.approx(truth["gpu_hours"], abs=0.01), area
    pue = dict(_query(wh, "select day::varchar, pue from marts.fct_energy_daily"))
    for day in centre.manifest["truth"]["energy_daily"]:
        assert pue[day["day"]] == pytest.approx(day["pue"], abs=0.001), day["day"]
    layers = _query(wh, "select layer, count(*) from audit.dq_runs group by 1 order by 1")
    assert layers == [("marts", 1), ("raw", 1)]
    assert (centre.home / "dq" / "latest.html").is_file()


def test_publish_gates_snapshots_and_issues_the_due_reports(centre):
    from kirz.reporting import due_reports

    dr = centre.runs["publish"]
    states = _states(dr)
    assert states["gated_snapshot"] == "success" and states["due_reports"] == "success"
    stamp = "20261102T060000Z"
    latest = json.loads((centre.settings.published_dir / "LATEST").read_text())
    assert latest == {"run_id": stamp, "snapshot": f"kirz-{stamp}.duckdb"}
    snap = centre.settings.published_dir / "snapshots" / f"kirz-{stamp}.duckdb"
    live_jobs = _query(centre.settings.warehouse_path, "select count(*), sum(gpu_hours) from marts.fct_job_usage")
    assert _query(snap, "select count(*), sum(gpu_hours) from marts.fct_job_usage") == live_jobs
    assert _query(snap, "select run_id, gate_status, gate_override_id from meta.snapshot") == [(stamp, "open", None)]

    # as of 2026-11-02 the latest complete periods are 2026-10, 2026-Q3 and 2025; only October
    # has data (the centre opened on 2026-10-19), so only the monthly statements are due
    due = due_reports(centre.settings, _day("2026-11-02"), db=snap)
    assert sorted(due) == sorted([
        (centre.partners[0], "partner_statement", "2026-10"),
        (centre.partners[1], "partner_statement", "2026-10"),
    ])
    issued = [k for k in states if k.startswith("issue_report[")]
    assert len(issued) == 2
    assert all(states[k] == "success" for k in issued)
    for recipient, kind, period in due:
        folder = centre.settings.reports_dir / recipient / period
        assert any(folder.glob(f"{kind}*.pdf")), (recipient, kind, period)
        assert any(folder.glob(f"{kind}*.html")), (recipient, kind, period)
    # delivered on the clock's day when due (partners.yaml: the 3rd working day, 2026-11-04), a
    # preview before; record_deliveries writes one audit row per file that went out
    assert states["record_deliveries"] == "success"
    delivered = datetime.now(timezone.utc).astimezone(centre.settings.tz).date() >= _day("2026-11-04")
    pdfs = sorted(p.name for p in (centre.home / "outbox").rglob("*.pdf"))
    assert len(pdfs) == (2 if delivered else 0)
    rows = _query(centre.settings.warehouse_path, "select recipient_id, version, channel, count(*) "
                  "from audit.report_deliveries group by all order by all")
    files = {p: len(json.loads(next((centre.settings.reports_dir / p / "2026-10").glob("*.v1.json")).read_text())
                        ["files"]) for p in centre.partners[:2]}
    assert rows == ([(p, 1, "outbox", files[p]) for p in sorted(centre.partners[:2])] if delivered else [])


def _forget_run(dag_id: str, run_id: str) -> None:
    """Delete a finished DAG run, so that dag.test() can run the same run (same run_after) again."""
    from sqlalchemy import select

    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        session.delete(session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).one())


def test_rerunning_the_same_publish_run_changes_nothing(centre):
    """A re-run of the same run (same run_after): same snapshot name, no new report versions."""
    settings = centre.settings
    latest = (settings.published_dir / "LATEST").read_text()
    reports = _report_files(settings)
    _forget_run("kirz_publish", centre.runs["publish"].run_id)
    again = centre.bag.get_dag("kirz_publish").test(run_after=PUBLISH_AT[0])
    assert str(again.state) == "success"
    assert (settings.published_dir / "LATEST").read_text() == latest
    assert sorted(p.name for p in (settings.published_dir / "snapshots").iterdir()) == ["kirz-20261102T060000Z.duckdb"]
    assert _report_files(settings) == reports  # unchanged data: no new report version


def _raw_events(source: str) -> int:
    """Asset events recorded for raw.<source> (what schedules the transform)."""
    from sqlalchemy import func, select

    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return session.scalar(select(func.count()).select_from(AssetEvent).join(
            AssetModel, AssetEvent.asset_id == AssetModel.id).where(AssetModel.uri == f"kirz://warehouse/raw/{source}"))


def test_rerunning_an_ingest_dag_is_a_no_op_and_a_redelivery_adds_nothing(centre):
    bag, settings = centre.bag, centre.settings
    events = _raw_events("slurm")
    assert events >= 1  # the first ingest loaded files and said so
    again = bag.get_dag("kirz_ingest_slurm").test()
    assert str(again.state) == "success"
    assert _states(again) == {"ingest": "skipped"}  # nothing waiting: no raw event, no transform
    assert _raw_events("slurm") == events

    archived = sorted((centre.home / "archive" / "slurm").rglob("*"))
    first = next(p for p in archived if p.is_file())
    shutil.copy(first, settings.landing_for("slurm") / first.name)
    before = _raw_counts(settings)
    redelivered = bag.get_dag("kirz_ingest_slurm").test()
    assert _states(redelivered) == {"ingest": "skipped"}  # nothing new loaded: no raw event either
    assert _raw_events("slurm") == events
    assert _raw_counts(settings) == before
    status = _query(settings.warehouse_path,
                    "select status from audit.ingests where source = 'slurm' order by ingest_id desc limit 1")
    assert status == [("duplicate",)]


def test_an_unreadable_delivery_is_rejected_without_failing_the_run(centre):
    bag, settings = centre.bag, centre.settings
    junk = settings.landing_for("slurm") / "not-sacct.txt"
    junk.write_text("this is not sacct output\n")
    events = _raw_events("slurm")
    dr = bag.get_dag("kirz_ingest_slurm").test()
    assert _states(dr) == {"ingest": "skipped"}  # rejected whole, nothing loaded: no transform follows
    assert _raw_events("slurm") == events
    assert not junk.exists()
    assert [p.name for p in (centre.home / "rejected" / "slurm").rglob("*") if p.is_file()] == ["not-sacct.txt"]
    rows = _query(settings.warehouse_path,
                  "select source_file, reason is not null from raw.quarantine where source_file like '%not-sacct.txt'")
    assert len(rows) == 1 and rows[0][1] is True


def test_a_critical_finding_stops_publishing_not_ingestion_until_accepted(centre, capfd):
    """A power sample above the node's rated maximum: loaded, transformed, but not published."""
    from kirz.validation import accept

    bag, settings = centre.bag, centre.settings
    latest_before = (settings.published_dir / "LATEST").read_text()
    reports_before = _report_files(settings)
    spike = settings.landing_for("power") / "power-spike.csv"
    spike.write_text("timestamp,node,watts\n2026-10-19T12:02:30Z,gpu001,10800.0\n")

    events = _raw_events("power")
    ingest = bag.get_dag("kirz_ingest_power").test()
    assert _states(ingest) == {"ingest": "success"}
    assert _raw_events("power") == events + 1
    assert _query(settings.warehouse_path, "select count(*) from raw.node_power where watts = 10800.0") == [(1,)]
    transform = bag.get_dag("kirz_transform").test()
    assert str(transform.state) == "success"
    finding = _query(settings.warehouse_path, """
        select r.severity, r.success from audit.dq_results r join audit.dq_runs u using (run_id)
        where r.expectation = 'power_watts_within_node_max' order by u.started_at desc limit 1""")
    assert finding == [("critical", False)]

    capfd.readouterr()
    blocked = bag.get_dag("kirz_publish").test(run_after=PUBLISH_AT[1])
    assert str(blocked.state) == "failed"
    log = "".join(capfd.readouterr())
    assert "data-quality gate: publishing" in log and "power_watts_within_node_max" in log
    assert "To publish anyway: kirz publish ... --force --reason TEXT --by NAME" in log
    states = _states(blocked)
    assert states["gated_snapshot"] == "failed"
    assert states["due_reports"] == "upstream_failed"
    (gated,) = [ti for ti in blocked.get_task_instances() if ti.task_id == "gated_snapshot"]
    assert gated.try_number == 1  # a gate decision is not retried
    assert (settings.published_dir / "LATEST").read_text() == latest_before
    assert _report_files(settings) == reports_before

    accept(settings, "raw.node_power", "power_watts_within_node_max", _day("2026-10-19"),
           _day("2026-10-19"), reason="test spike: meter calibration, checked", accepted_by="test")
    released = bag.get_dag("kirz_publish").test(run_after=PUBLISH_AT[2])
    assert str(released.state) == "success"
    assert json.loads((settings.published_dir / "LATEST").read_text())["run_id"] == "20261102T080000Z"


def _day(text):
    from datetime import date

    return date.fromisoformat(text)
