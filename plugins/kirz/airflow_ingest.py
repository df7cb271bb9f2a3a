"""The ingest DAG of one source, built here for the DAG files ``dags/kirz_ingest_<source>.py`` (one per source).

Each DAG file holds one line, ``kirz_ingest_<source> = ingest_dag("<source>", __doc__)``, and
its docstring says what the source is; the behaviour, the same for every source, is built here.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, task

from kirz.airflow_assets import LANDING, NIGHTLY_INGEST, RAW, TIMEZONE, WAREHOUSE_POOL, WAREHOUSE_QUEUE
from kirz.config import SOURCES

_BEHAVIOUR = """
Runs when stable files land in ``<KIRZ_HOME>/landing/{source}/`` (a ``LandingFileTrigger`` in the
triggerer fires the landing asset) and nightly. Processed files move to ``archive/`` or
``rejected/``; a file already loaded (same sha256) adds nothing, so overlapping events and
re-runs are safe. A run that loads no new file (none waiting, only files loaded before, only
rejected ones) ends *skipped*: it emits no raw asset event, so no transform or publish follows. ``max_active_runs=1`` keeps two runs from reading the same folder at once.
Ingestion outranks the transform in the warehouse pool, so files delivered together are all
loaded before the marts are rebuilt from them (one rebuild, no reports from half a delivery).
"""


def nothing_new(summary: dict, landing) -> str | None:
    """Why an ingest run loaded nothing new (then its task is skipped: a skipped task emits no
    asset event, so no transform and no publish follow), or None when it loaded a file.

    ``summary``: :func:`kirz.pipeline.ingest_source`'s. Files already loaded (same sha256) and
    files rejected whole add no rows; a rejected file is kept in ``rejected/`` and ``raw.quarantine``.
    """
    if summary["loaded"]:
        return None
    if not summary["files"]:
        return f"nothing to ingest: {landing} holds no files"
    parts = []
    if summary["duplicate"]:
        parts.append(f"{summary['duplicate']} file(s) already loaded (same sha256)")
    if summary["rejected"]:
        parts.append(f"{len(summary['rejected'])} file(s) rejected: " + "; ".join(summary["rejected"]))
    return f"nothing new loaded from {landing}: " + ", ".join(parts)


def ingest_dag(source: str, doc: str | None = None):
    """The DAG ``kirz_ingest_<source>``: one task that ingests the files waiting in landing.

    ``doc``, the DAG file's docstring, heads the DAG's documentation.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
    dag_id = f"kirz_ingest_{source}"

    @dag(
        dag_id=dag_id,
        schedule=AssetOrTimeSchedule(
            timetable=CronTriggerTimetable(NIGHTLY_INGEST, timezone=TIMEZONE), assets=LANDING[source]
        ),
        start_date=pendulum.datetime(2026, 1, 1, tz=TIMEZONE),
        catchup=False,
        max_active_runs=1,
        tags=["kirz", "ingest", source],
        default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
        doc_md=(doc or f"{dag_id}: ingest landing/{source}/.").strip() + "\n" + _BEHAVIOUR.format(source=source),
    )
    def ingest_source_dag():
        @task(outlets=[RAW[source]], pool=WAREHOUSE_POOL, queue=WAREHOUSE_QUEUE, priority_weight=50, weight_rule="absolute",
              doc_md=f"Ingest every file waiting in landing/{source}/; skipped (no asset event) when none was new.")
        def ingest(outlet_events=None) -> dict:
            from airflow.sdk.exceptions import AirflowSkipException

            from kirz.config import load_settings
            from kirz.pipeline import ingest_source

            settings = load_settings()
            summary = ingest_source(settings, source)
            reason = nothing_new(summary, settings.landing_for(source))
            if reason:
                raise AirflowSkipException(reason)
            outlet_events[RAW[source]].extra = {
                k: summary[k] for k in ("files", "loaded", "duplicate", "rows_loaded", "rows_quarantined")
            }
            return summary

        ingest()

    return ingest_source_dag()
