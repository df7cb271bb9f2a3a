"""kirz_deliver: every morning, deliver the reports that have become due since they were rendered.

The publish DAG renders reports as soon as their data are published; a report whose recipient
file says it goes out later (``deliver: {on: 3rd_working_day}``, ``{settle_days: 20}``,
``{by: "03-31"}``) stays a preview for the operator until then, and a correction held back by
the recipient's interval waits too. This DAG renders nothing: it delivers the latest version of
every report on disk whose day has come and that has not gone out (kirz.reporting.deliver_due;
each version once per channel), then writes the deliveries into ``audit.report_deliveries``
in the warehouse pool (after a failed delivery the run fails; the next sync records what went
out before the failure, from the manifests).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronTriggerTimetable, dag, task

from kirz.airflow_assets import TIMEZONE, WAREHOUSE_POOL, WAREHOUSE_QUEUE


@dag(
    schedule=CronTriggerTimetable("0 7 * * *", timezone=TIMEZONE),
    start_date=pendulum.datetime(2026, 1, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,
    tags=["kirz", "reports", "delivery"],
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    doc_md=__doc__,
)
def kirz_deliver():
    @task
    def deliver_due() -> list[dict]:
        """Deliver what is due and not out yet; each report's state in the return value."""
        from kirz.config import load_settings
        from kirz.reporting import deliver_due as deliver

        return [
            {"recipient": o.recipient, "kind": o.kind, "period": o.period, "lang": o.lang, "version": o.version,
             "due": o.due.isoformat() if o.due else None, "delivered": list(o.delivered), "held": o.held}
            for o in deliver(load_settings(), record=False)
        ]

    @task(pool=WAREHOUSE_POOL, queue=WAREHOUSE_QUEUE)
    def record_deliveries() -> int:
        """Write the deliveries the manifests hold into audit.report_deliveries (the live warehouse)."""
        from kirz.config import load_settings
        from kirz.reporting.audit import record_deliveries_in

        return record_deliveries_in(load_settings(), strict=True)

    deliver_due() >> record_deliveries()


kirz_deliver()
