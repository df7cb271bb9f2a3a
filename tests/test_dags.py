"""DagBag integrity: the DAG files parse, follow the house rules and fit together through assets."""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Airflow reads its configuration once, at import: a throwaway home, the repo's folders.
os.environ.setdefault("KIRZ_TEST_AIRFLOW_HOME", tempfile.mkdtemp(prefix="kirz-airflow-test-"))
os.environ["AIRFLOW_HOME"] = os.environ["KIRZ_TEST_AIRFLOW_HOME"]
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "plugins")

import pytest  # noqa: E402

from kirz.config import SOURCES  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DAGS = REPO / "dags"
INGEST = {f"kirz_ingest_{s}" for s in SOURCES}
PULL = {"kirz_pull_slurm", "kirz_pull_prometheus"}
CLOCK = PULL | {"kirz_deliver"}  # on a clock, awaiting no asset
ALL = INGEST | PULL | {"kirz_transform", "kirz_publish", "kirz_deliver"}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    t0 = time.perf_counter()
    bag = DagBag(dag_folder=str(DAGS))
    bag.parse_seconds = time.perf_counter() - t0
    return bag


def _assets(condition) -> list:
    """The assets an asset condition (Asset, AssetAny, AssetAll) waits for."""
    from airflow.sdk import Asset

    if condition is None:
        return []
    if isinstance(condition, Asset):
        return [condition]
    return [a for obj in getattr(condition, "objects", []) for a in _assets(obj)]


def _awaited(dag) -> list:
    from airflow.sdk import Asset

    if isinstance(dag.timetable, Asset):
        return [dag.timetable]
    condition = getattr(dag.timetable, "asset_condition", None)
    return _assets(condition)


def test_no_import_errors_and_every_dag_present(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == ALL


def test_parse_time_is_bounded(dagbag):
    assert dagbag.parse_seconds < 60, f"parsing dags/ took {dagbag.parse_seconds:.1f} s"
    for stat in dagbag.dagbag_stats:
        assert stat.duration.total_seconds() < 20, stat


def test_file_name_is_the_dag_id_and_house_settings(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert Path(dag.fileloc).name == f"{dag_id}.py"
        assert "kirz" in dag.tags and len(dag.tags) >= 2, dag_id
        assert dag.catchup is False, dag_id
        assert dag.max_active_runs == 1, dag_id
        assert dag.start_date.tzinfo is not None, dag_id
        assert dag.default_args["retries"] == 2, dag_id
        assert dag.doc_md and dag_id in dag.doc_md, dag_id


def test_every_task_retries(dagbag):
    for dag_id, dag in dagbag.dags.items():
        for t in dag.tasks:
            assert t.retries == 2, (dag_id, t.task_id)


def test_every_awaited_asset_has_a_producer(dagbag):
    produced = {a.uri for dag in dagbag.dags.values() for t in dag.tasks for a in t.outlets}
    for dag_id, dag in dagbag.dags.items():
        awaited = _awaited(dag)
        if dag_id in CLOCK:  # on a clock: the pulls produce the landing assets the ingest DAGs await
            assert awaited == [], dag_id
            continue
        assert awaited, f"{dag_id} waits for no asset"
        for asset in awaited:
            assert asset.uri in produced or asset.watchers, f"{dag_id} waits for {asset.uri}, which nothing produces"


def test_assets_wire_ingest_to_transform_to_publish(dagbag):
    from kirz.airflow_triggers import LandingFileTrigger

    for source in SOURCES:
        dag = dagbag.dags[f"kirz_ingest_{source}"]
        (landing,) = _awaited(dag)
        assert landing.uri == f"kirz://landing/{source}"
        (watcher,) = landing.watchers
        assert isinstance(watcher.trigger, LandingFileTrigger)
        assert watcher.trigger.source == source and watcher.trigger.directory is None
        assert "15 1 * * *" in repr(dag.timetable), "nightly run missing"
        (ingest,) = dag.tasks
        assert [a.uri for a in ingest.outlets] == [f"kirz://warehouse/raw/{source}"]

    transform = dagbag.dags["kirz_transform"]
    assert {a.uri for a in _awaited(transform)} == {f"kirz://warehouse/raw/{s}" for s in SOURCES}
    assert [t.task_id for t in transform.topological_sort()] == ["validate_raw", "dbt_build", "validate_marts"]
    outlets = {t.task_id: [a.uri for a in t.outlets] for t in transform.tasks}
    assert outlets == {"validate_raw": [], "dbt_build": [], "validate_marts": ["kirz://warehouse/marts"]}

    publish = dagbag.dags["kirz_publish"]
    assert [a.uri for a in _awaited(publish)] == ["kirz://warehouse/marts"]
    assert [t.task_id for t in publish.topological_sort()] == ["gated_snapshot", "due_reports", "issue_report",
                                                               "record_deliveries"]
    # it runs when nothing was due (issue_report skipped), and a failure upstream still fails the run
    assert publish.get_task("record_deliveries").trigger_rule == "none_failed"


def test_the_daily_delivery_renders_nothing_and_records_in_the_pool(dagbag):
    deliver = dagbag.dags["kirz_deliver"]
    assert deliver.timetable.expression == "0 7 * * *"
    assert [t.task_id for t in deliver.topological_sort()] == ["deliver_due", "record_deliveries"]
    assert all(not t.outlets for t in deliver.tasks)


def test_tasks_on_the_live_warehouse_share_the_one_slot_pool(dagbag):
    reads_live = {("kirz_transform", t) for t in ("validate_raw", "dbt_build", "validate_marts")}
    reads_live |= {(d, "ingest") for d in INGEST} | {("kirz_publish", "gated_snapshot")}
    reads_live |= {(d, "pull") for d in PULL}  # they write their watermarks into the warehouse
    reads_live |= {("kirz_publish", "record_deliveries"), ("kirz_deliver", "record_deliveries")}  # audit rows
    for dag_id, dag in dagbag.dags.items():
        for t in dag.tasks:
            expected = "kirz_warehouse" if (dag_id, t.task_id) in reads_live else "default_pool"
            assert t.pool == expected, (dag_id, t.task_id)
            # under Celery, the same tasks go to the one queue the warehouse's host serves;
            # report rendering and delivery (files and the snapshot) to any worker
            assert t.queue == ("kirz_warehouse" if (dag_id, t.task_id) in reads_live else "default"), (dag_id, t.task_id)
    # in the pool: a pending publish first (it must snapshot what was validated), then waiting
    # ingests (a delivery is loaded whole before a rebuild), then the transform
    gated = dagbag.dags["kirz_publish"].get_task("gated_snapshot")
    assert gated.priority_weight == 100 and str(gated.weight_rule).endswith("absolute")
    for d in INGEST:
        ingest = dagbag.dags[d].get_task("ingest")
        assert ingest.priority_weight == 50 and str(ingest.weight_rule).endswith("absolute")
    transform = dagbag.dags["kirz_transform"]
    # "downstream" weighting: a task's effective weight is at most the sum over its DAG
    assert sum(t.priority_weight for t in transform.tasks) < 50


def test_the_warehouse_queue_is_the_one_the_production_workers_serve():
    from kirz import airflow_local, airflow_prod
    from kirz.airflow_assets import WAREHOUSE_POOL, WAREHOUSE_QUEUE

    assert (airflow_local.WAREHOUSE_POOL, airflow_local.WAREHOUSE_QUEUE) == (WAREHOUSE_POOL, WAREHOUSE_QUEUE)
    served = {name: queues.split(",") for name, (queues, _host) in airflow_prod.WORKERS.items()}
    assert [name for name, queues in served.items() if WAREHOUSE_QUEUE in queues] == ["worker-warehouse"]
    assert all("default" in queues for queues in served.values())


def test_dag_files_do_no_heavy_imports_at_parse_time():
    """Importing a DAG file must not pull in DuckDB, dbt, GX, Arrow or the report renderer."""
    code = (
        "import sys, runpy, airflow.sdk\n"
        "before = set(sys.modules)\n"
        f"for f in sorted(__import__('glob').glob({str(DAGS)!r} + '/*.py')):\n"
        "    runpy.run_path(f)\n"
        "heavy = ('duckdb', 'dbt', 'great_expectations', 'pyarrow', 'weasyprint', 'pandas', 'kirz.pipeline')\n"
        "print(sorted({m.split('.')[0] if not m.startswith('kirz') else m for m in set(sys.modules) - before"
        " if m.startswith(heavy)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180,
                         env=dict(os.environ))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_pull_dags_run_on_a_clock_and_announce_landing_files(dagbag):
    from kirz.airflow_assets import LANDING

    slurm, prom = dagbag.dags["kirz_pull_slurm"], dagbag.dags["kirz_pull_prometheus"]
    assert slurm.timetable.expression == "5 * * * *"
    assert prom.timetable.expression == "*/15 * * * *"
    assert {a.uri for t in slurm.tasks for a in t.outlets} == {LANDING["slurm"].uri}
    assert {a.uri for t in prom.tasks for a in t.outlets} == {LANDING["power"].uri, LANDING["gpu"].uri}
