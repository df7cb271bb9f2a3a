"""kirz_ingest_slurm: load Slurm accounting (`sacct -P` and `sacct --json` files) from landing/slurm/ into raw.slurm_jobs.

The DAG (schedule, task, pool, retries) is the same for every source: kirz.airflow_ingest.
"""

from __future__ import annotations

from kirz.airflow_ingest import ingest_dag

kirz_ingest_slurm = ingest_dag("slurm", __doc__)
