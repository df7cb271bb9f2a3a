"""kirz_transform: validate raw -> dbt build -> validate marts, whenever raw data changed.

Scheduled on the raw assets: any source's ingest that processed files. Events that arrive
while a run is active are coalesced into the next run, and each run builds from the whole
warehouse, so one run covers several deliveries and re-running is safe.

Data quality never stops this DAG: both validations record their results in ``audit.dq_*``
and the publish DAG's gate decides. Raw data is append-only, so the raw suites check what the
new ingests touched; the mart suites check every day whose mart content changed since their
last run (a build can change days no new file touched: an amended contract re-attributes past
jobs, late power samples restate energy), so the gate judges every published day by a result
on its current content, and a night costs the same whatever the length of the history.
A validation or dbt error (not a data-quality finding) fails the task with the reason.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import AssetAny, dag, task

from kirz.airflow_assets import MARTS, RAW, TIMEZONE, WAREHOUSE_POOL, WAREHOUSE_QUEUE


@dag(
    schedule=AssetAny(*RAW.values()),
    start_date=pendulum.datetime(2026, 1, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,
    tags=["kirz", "transform", "dbt", "data-quality"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    doc_md=__doc__,
)
def kirz_transform():
    @task(pool=WAREHOUSE_POOL, queue=WAREHOUSE_QUEUE)
    def validate_raw() -> dict:
        """Run the raw-layer suites; findings are recorded, not raised."""
        from kirz.config import load_settings
        from kirz.validation import validate

        run = validate(load_settings(), layer="raw")
        return {"run_id": run.run_id, "status": run.status, "passed": run.passed,
                "warnings": run.warnings, "critical": run.critical}

    @task(pool=WAREHOUSE_POOL, queue=WAREHOUSE_QUEUE)
    def dbt_build() -> dict:
        """dbt build of seeds, models, snapshots and tests; raises naming what failed."""
        from kirz.config import load_settings
        from kirz.pipeline import run_transform

        return run_transform(load_settings())

    @task(pool=WAREHOUSE_POOL, queue=WAREHOUSE_QUEUE, outlets=[MARTS])
    def validate_marts(outlet_events=None) -> dict:
        """Run the mart suites over the days whose content changed; announce the validated rebuild."""
        from kirz.config import load_settings
        from kirz.validation import validate

        run = validate(load_settings(), layer="marts")
        summary = {"run_id": run.run_id, "status": run.status, "passed": run.passed,
                   "warnings": run.warnings, "critical": run.critical}
        outlet_events[MARTS].extra = summary
        return summary

    validate_raw() >> dbt_build() >> validate_marts()


kirz_transform()
