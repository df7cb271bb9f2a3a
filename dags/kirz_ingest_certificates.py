"""kirz_ingest_certificates: load the renewable electricity certificate ledgers (certificates/<year>.yaml: guarantees of origin, PPAs, on-site generation) from landing/certificates/ into raw.certificates.

The DAG (schedule, task, pool, retries) is the same for every source: kirz.airflow_ingest.
"""

from __future__ import annotations

from kirz.airflow_ingest import ingest_dag

kirz_ingest_certificates = ingest_dag("certificates", __doc__)
