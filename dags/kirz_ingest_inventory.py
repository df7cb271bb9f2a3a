"""kirz_ingest_inventory: load the inventory YAML (nodes and meters) from landing/inventory/ into raw.inventory_*.

The DAG (schedule, task, pool, retries) is the same for every source: kirz.airflow_ingest.
"""

from __future__ import annotations

from kirz.airflow_ingest import ingest_dag

kirz_ingest_inventory = ingest_dag("inventory", __doc__)
