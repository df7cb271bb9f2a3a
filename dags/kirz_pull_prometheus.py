"""kirz_pull_prometheus: every 15 minutes, Prometheus' query_range for each configured query since its watermark into landing/power/ (node power) and landing/gpu/ (DCGM series).

What lands there is loaded by kirz_ingest_power and kirz_ingest_gpu (this task announces both
landing assets when a file landed; an ingest DAG that finds its folder empty is skipped). The chunking, retries and watermarks are kirz.pull's (``kirz pull prometheus``
runs the same); the `[pull.prometheus]` table of kirz.toml configures it (url, queries,
credentials), and without a url the task is skipped. Points newer than ``lag_s`` before the
scheduled time wait for the next run.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronTriggerTimetable, dag, task

from kirz.airflow_assets import LANDING, TIMEZONE, WAREHOUSE_POOL, WAREHOUSE_QUEUE


@dag(
    schedule=CronTriggerTimetable("*/15 * * * *", timezone=TIMEZONE),
    start_date=pendulum.datetime(2026, 1, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,
    tags=["kirz", "pull", "power", "gpu"],
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    doc_md=__doc__,
)
def kirz_pull_prometheus():
    @task(outlets=[LANDING["power"], LANDING["gpu"]], pool=WAREHOUSE_POOL, queue=WAREHOUSE_QUEUE)
    def pull(data_interval_end=None) -> dict:
        """Pull each query up to the scheduled time minus the lag; skipped without a url or when nothing is new."""
        from airflow.sdk.exceptions import AirflowSkipException

        from kirz.config import load_settings
        from kirz.pull import is_configured, run_pull

        settings = load_settings()
        if not is_configured(settings, "prometheus"):
            raise AirflowSkipException("kirz.toml has no url in [pull.prometheus]: Prometheus is not pulled")
        summary = run_pull(settings, "prometheus", now=data_interval_end)
        if not summary["files"]:
            raise AirflowSkipException(f"nothing new in Prometheus: {summary['watermarks']}")
        return summary

    pull()


kirz_pull_prometheus()
