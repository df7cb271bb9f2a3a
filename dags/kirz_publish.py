"""kirz_publish: gate on data quality, publish the analysts' snapshot, issue the reports that are due.

Scheduled on the marts asset (the transform DAG's validated rebuild). Order matters:

1. ``gate``: over every local day the marts hold, the latest result of each expectation must
   have no critical failure that is not accepted; otherwise the run fails here, with the
   gate's reason, and nothing is published (no retries: the answer would be the same). With
   no marts yet there is nothing to publish and the run is skipped.
2. ``snapshot``: a new read-only snapshot of the warehouse, swapped in atomically; named after
   the run's ``run_after``, so re-running the same run rewrites the same snapshot.
3. ``due_reports`` -> ``issue_report`` (one mapped task per recipient, kind and period): each
   report is rendered from *this* snapshot; an unchanged period makes no new version and a
   version is delivered once, so reruns are safe.

A failed or killed run leaves the previous snapshot and reports as they were: both are
written to temporary names and renamed into place only when complete.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from kirz.airflow_assets import MARTS, TIMEZONE, WAREHOUSE_POOL

@dag(
    schedule=MARTS,
    start_date=pendulum.datetime(2026, 1, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,
    tags=["kirz", "publish", "reports", "data-quality"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    doc_md=__doc__,
)
def kirz_publish():
    @task(pool=WAREHOUSE_POOL, retries=0)
    def gate() -> dict:
        """Stop publishing when a critical data-quality failure in the marts' days is not accepted."""
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from kirz.config import load_settings
        from kirz.validation import data_days, gate as dq_gate
        from kirz.warehouse import open_warehouse

        settings = load_settings()
        with open_warehouse(settings.warehouse_path) as con:
            first, last = data_days(con, settings.timezone, "marts")
            if first is None:
                raise AirflowSkipException("nothing to publish: the marts hold no days yet")
            decision = dq_gate(con, first, last)
        if not decision.ok:
            raise AirflowFailException(f"data-quality gate: {decision.message}")
        return {"period": f"{first}..{last}", "warnings": len(decision.warnings), "accepted": len(decision.accepted)}

    @task(pool=WAREHOUSE_POOL)
    def snapshot(gate_result: dict, dag_run=None) -> dict:
        """Publish the analysts' snapshot (written whole, then renamed into place)."""
        from kirz.config import load_settings
        from kirz.publish import publish_snapshot

        stamp = dag_run.run_after.strftime("%Y%m%dT%H%M%SZ")
        published = publish_snapshot(load_settings(), run_id=stamp)
        return {"run_id": stamp, "snapshot": str(published.snapshot), "tables": published.tables}

    @task
    def due_reports(published: dict, dag_run=None) -> list[dict]:
        """The reports due as of the run's local day, each to be rendered from this snapshot."""
        from kirz.config import load_settings
        from kirz.reporting import due_reports as list_due

        settings = load_settings()
        as_of = dag_run.run_after.astimezone(settings.tz).date()
        return [
            {"recipient": recipient, "kind": kind, "period": period, "db": published["snapshot"]}
            for recipient, kind, period in list_due(settings, as_of, db=published["snapshot"])
        ]

    @task(max_active_tis_per_dag=1)
    def issue_report(item: dict) -> list[dict]:
        """Render (a new version only when the data changed) and deliver one due report."""
        from kirz.config import load_settings
        from kirz.reporting import report

        outputs = report(
            load_settings(), recipient=item["recipient"], period=item["period"],
            kinds=[item["kind"]], deliver=True, db=item["db"],
        )
        return [
            {"recipient": o.recipient, "kind": o.kind, "period": o.period, "lang": o.lang,
             "version": o.version, "new": o.new, "html": str(o.html), "pdf": str(o.pdf),
             "delivered": list(o.delivered)}
            for o in outputs
        ]

    issue_report.expand(item=due_reports(snapshot(gate())))


kirz_publish()
