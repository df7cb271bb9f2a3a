"""Fixtures for the live-system tests: a real Slurm and a real Prometheus.

Imported by ``tests/test_pull_slurm.py`` and ``tests/test_pull_prometheus.py``, the only user
of each: every daemon is started once, for the module, and stopped by its pid when the
module is done. Missing packages or a
non-root user fail the tests with the reason (CI installs the packages: ``.ci/run``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

# Airflow reads its configuration once, at import: the throwaway home the other DAG tests use
os.environ.setdefault("KIRZ_TEST_AIRFLOW_HOME", tempfile.mkdtemp(prefix="kirz-airflow-test-"))
os.environ["AIRFLOW_HOME"] = os.environ["KIRZ_TEST_AIRFLOW_HOME"]
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).resolve().parents[1] / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(Path(__file__).resolve().parents[1] / "plugins")

import pytest  # noqa: E402

import testbed  # noqa: E402

DAGS = Path(__file__).resolve().parents[1] / "dags"


def _need_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("the live-system test bed starts munged, MariaDB and Slurm's daemons: run the tests as root")


@pytest.fixture(scope="module")
def slurm_bed():
    """munged, MariaDB, slurmdbd, slurmctld, slurmd: one node, 16 CPUs, 8 GPUs."""
    _need_root()
    base = testbed.make_base("kirz-slurm-")
    bed = testbed.start_slurm(base)
    try:
        yield bed
    finally:
        testbed.stop_slurm(bed)
        shutil.rmtree(base, ignore_errors=True)


# the Prometheus test bed: 4 nodes x 30 h of 10 s samples (two query_range chunks of 10,000 steps)
POWER_NODES = 4
POWER_HOURS = 30
POWER_STEP_S = 10
PROM_USER = "kirz-reader"


@pytest.fixture(scope="module")
def power_series() -> dict[str, list[tuple[int, float]]]:
    return testbed.synthetic_power(nodes=POWER_NODES, hours=POWER_HOURS, step_s=POWER_STEP_S)


@pytest.fixture(scope="module")
def prometheus_bed(power_series):
    """Prometheus 2.42 on 127.0.0.1, backfilled with ``power_series``, behind basic auth."""
    base = testbed.make_base("kirz-prometheus-")
    password = f"pw-{os.urandom(6).hex()}"
    bed = testbed.start_prometheus(base, power_series, username=PROM_USER, password=password)
    try:
        yield bed
    finally:
        testbed.stop_prometheus(bed)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def airflow_db():
    """A fresh Airflow metadata database (SQLite in the throwaway AIRFLOW_HOME) for ``dag.test()``."""
    from airflow.utils.db import resetdb

    resetdb()


def run_dag(dag_id: str, kirz_home: Path) -> tuple[object, dict[str, str]]:
    """``dag.test()`` of one DAG file with ``KIRZ_HOME`` set; (dag run, task states)."""
    from airflow.dag_processing.dagbag import DagBag

    saved = {k: os.environ.get(k) for k in ("KIRZ_HOME", "KIRZ_CONFIG")}
    os.environ["KIRZ_HOME"] = str(kirz_home)
    os.environ.pop("KIRZ_CONFIG", None)
    try:
        bag = DagBag(dag_folder=str(DAGS / f"{dag_id}.py"))
        assert bag.import_errors == {}
        run = bag.get_dag(dag_id).test()
        return run, {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
