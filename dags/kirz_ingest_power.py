"""kirz_ingest_power: load node power samples (Prometheus `query_range` JSON and CSV) from landing/power/ into raw.node_power.

Runs when stable files land in ``<KIRZ_HOME>/landing/power/`` (a ``LandingFileTrigger`` in the
triggerer fires the landing asset) and nightly. Processed files move to ``archive/`` or
``rejected/``; a file already loaded (same sha256) adds nothing, so overlapping events and
re-runs are safe. ``max_active_runs=1`` keeps two runs from reading the same folder at once.
Ingestion outranks the transform in the warehouse pool, so files delivered together are all
loaded before the marts are rebuilt from them (one rebuild, no reports from half a delivery).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, task

from kirz.airflow_assets import LANDING, NIGHTLY_INGEST, RAW, TIMEZONE, WAREHOUSE_POOL

SOURCE = "power"


@dag(
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(NIGHTLY_INGEST, timezone=TIMEZONE), assets=LANDING[SOURCE]
    ),
    start_date=pendulum.datetime(2026, 1, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,
    tags=["kirz", "ingest", SOURCE],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    doc_md=__doc__,
)
def kirz_ingest_power():
    @task(outlets=[RAW[SOURCE]], pool=WAREHOUSE_POOL, priority_weight=50, weight_rule="absolute")
    def ingest(outlet_events=None) -> dict:
        """Ingest every file waiting in landing/power/; skipped (no asset event) when there was none."""
        from airflow.sdk.exceptions import AirflowSkipException

        from kirz.config import load_settings
        from kirz.pipeline import ingest_source

        settings = load_settings()
        summary = ingest_source(settings, SOURCE)
        if summary["files"] == 0:
            raise AirflowSkipException(f"nothing to ingest: {settings.landing_for(SOURCE)} holds no files")
        outlet_events[RAW[SOURCE]].extra = {
            k: summary[k] for k in ("files", "loaded", "duplicate", "rows_loaded", "rows_quarantined")
        }
        return summary

    ingest()


kirz_ingest_power()
