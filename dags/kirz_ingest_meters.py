"""kirz_ingest_meters: load facility energy meter readings (UTC CSV and the building-management export) from landing/meters/ into raw.meter_readings.

The DAG (schedule, task, pool, retries) is the same for every source: kirz.airflow_ingest.
"""

from __future__ import annotations

from kirz.airflow_ingest import ingest_dag

kirz_ingest_meters = ingest_dag("meters", __doc__)
