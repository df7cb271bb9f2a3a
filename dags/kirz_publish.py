"""kirz_publish: gate on data quality, publish the analysts' snapshot, issue the reports that are due.

Scheduled on the marts asset (the transform DAG's validated rebuild).

1. ``gated_snapshot``: the data-quality gate every publishing step passes
   (``kirz.validation.pass_gate``, the same as ``kirz publish`` and ``kirz report``): over
   every local day the marts hold, the latest result of each expectation must have no
   critical failure that is not accepted, unless an override recorded for exactly these
   failures (``kirz publish --force --reason .. --by ..``) is in force; otherwise the run
   fails here, with the gate's reason, and nothing is published (no retry: the answer would
   be the same). Then a new read-only snapshot is written and swapped in atomically, named
   after the run's ``run_after``, so re-running the same run rewrites the same snapshot. Gate
   and snapshot are one task on one warehouse connection, so no rebuild can slip in between
   what was checked and what is published; its high priority in the warehouse pool lets a
   pending publish go before the next transform. With no marts yet the run is skipped.
2. ``due_reports`` -> ``issue_report`` (one mapped task per recipient, kind and period): each
   report is rendered from *this* snapshot, passing the same gate on it (a snapshot published
   under an override renders under it and prints it); a report whose printed figures did not
   change makes no new version ("unchanged"), and a version is delivered once, only from the
   day its recipient file makes it due (before: a preview for the operator), a correction at
   most once per interval (``kirz.reporting.schedule``), so reruns are safe.
3. ``record_deliveries`` (in the warehouse pool, unless something upstream failed: the run then
   fails, and the next run's sync records what went out meanwhile): writes the deliveries the
   manifests hold into ``audit.report_deliveries``.

A failed or killed run leaves the previous snapshot and reports as they were: both are
written to temporary names and renamed into place only when complete.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from kirz.airflow_assets import MARTS, TIMEZONE, WAREHOUSE_POOL, WAREHOUSE_QUEUE


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
    @task(pool=WAREHOUSE_POOL, queue=WAREHOUSE_QUEUE, priority_weight=100, weight_rule="absolute")
    def gated_snapshot(dag_run=None) -> dict:
        """Gate on data quality, then publish the analysts' snapshot, under one warehouse lock."""
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from kirz.config import load_settings
        from kirz.publish import gated_publish
        from kirz.validation import GateBlocked

        settings = load_settings()
        stamp = dag_run.run_after.strftime("%Y%m%dT%H%M%SZ")
        try:
            decision, published = gated_publish(settings, run_id=stamp)
        except GateBlocked as exc:
            if exc.decision.status == "empty":
                raise AirflowSkipException(exc.decision.message) from None
            raise AirflowFailException(f"data-quality gate: {exc.decision.message}") from None
        return {"run_id": stamp, "snapshot": str(published.snapshot), "tables": published.tables,
                "period": f"{decision.period_start}..{decision.period_end}", "gate": decision.status,
                "gate_override_id": decision.override["override_id"] if decision.override else None,
                "dq_warnings": len(decision.warnings), "dq_accepted": len(decision.accepted)}

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

    @task(max_active_tis_per_dag=2)
    def issue_report(item: dict) -> list[dict]:
        """Render (a new version only when the data changed) and deliver one due report."""
        from kirz.config import load_settings
        from kirz.reporting import report

        outputs = report(
            load_settings(), recipient=item["recipient"], period=item["period"],
            kinds=[item["kind"]], deliver=True, db=item["db"], record=False,
        )
        return [
            {"recipient": o.recipient, "kind": o.kind, "period": o.period, "lang": o.lang,
             "version": o.version, "new": o.new, "status": o.status, "html": str(o.html), "pdf": str(o.pdf),
             "due": o.due.isoformat() if o.due else None, "delivered": list(o.delivered), "held": o.held}
            for o in outputs
        ]

    @task(pool=WAREHOUSE_POOL, queue=WAREHOUSE_QUEUE, trigger_rule="none_failed")
    def record_deliveries() -> int:
        """Write the deliveries the manifests hold into audit.report_deliveries (the live warehouse)."""
        from kirz.config import load_settings
        from kirz.reporting.audit import record_deliveries_in

        return record_deliveries_in(load_settings(), strict=True)

    issue_report.expand(item=due_reports(gated_snapshot())) >> record_deliveries()


kirz_publish()
