"""kirz_pull_slurm: every hour, `sacct` for the window since the last pull (minus the overlap) into landing/slurm/.

What lands there is loaded by kirz_ingest_slurm (this task announces the landing asset). The
window, the sacct call and the watermark are kirz.pull's (``kirz pull slurm`` runs the same);
the `[pull.slurm]` table of kirz.toml configures it, and without that table the task is
skipped. sacct must be on the worker's PATH (or named in the table) and see the cluster's
slurm.conf. A failing sacct fails the task with sacct's own message and leaves the watermark
where it was, so the retry (or the next hour) pulls the same window again.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronTriggerTimetable, dag, task

from kirz.airflow_assets import LANDING, TIMEZONE, WAREHOUSE_POOL, WAREHOUSE_QUEUE


@dag(
    schedule=CronTriggerTimetable("5 * * * *", timezone=TIMEZONE),
    start_date=pendulum.datetime(2026, 1, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,
    tags=["kirz", "pull", "slurm"],
    default_args={"retries": 2, "retry_delay": timedelta(minutes=2)},
    doc_md=__doc__,
)
def kirz_pull_slurm():
    @task(outlets=[LANDING["slurm"]], pool=WAREHOUSE_POOL, queue=WAREHOUSE_QUEUE)
    def pull(data_interval_end=None) -> dict:
        """Run sacct up to the scheduled time and land its output; skipped without [pull.slurm]."""
        from airflow.sdk.exceptions import AirflowSkipException

        from kirz.config import load_settings
        from kirz.pull import is_configured, run_pull

        settings = load_settings()
        if not is_configured(settings, "slurm"):
            raise AirflowSkipException("kirz.toml has no [pull.slurm] table: Slurm is not pulled")
        return run_pull(settings, "slurm", now=data_interval_end)

    pull()


kirz_pull_slurm()
