"""kirz_ingest_power: load node power samples (Prometheus `query_range` JSON and CSV) from landing/power/ into raw.node_power.

The DAG (schedule, task, pool, retries) is the same for every source: kirz.airflow_ingest.
"""

from __future__ import annotations

from kirz.airflow_ingest import ingest_dag

kirz_ingest_power = ingest_dag("power", __doc__)
