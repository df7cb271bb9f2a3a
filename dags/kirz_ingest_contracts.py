"""kirz_ingest_contracts: load partner contracts (one YAML file per contract) from landing/contracts/ into raw.contract_versions.

The DAG (schedule, task, pool, retries) is the same for every source: kirz.airflow_ingest.
"""

from __future__ import annotations

from kirz.airflow_ingest import ingest_dag

kirz_ingest_contracts = ingest_dag("contracts", __doc__)
