"""kirz_ingest_gpu: load GPU metrics (NVIDIA DCGM exporter series from Prometheus `query_range` JSON: utilisation, power, frame buffer used, the Slurm job of each GPU where mapped) from landing/gpu/ into raw.gpu_samples.

The DAG (schedule, task, pool, retries) is the same for every source: kirz.airflow_ingest.
"""

from __future__ import annotations

from kirz.airflow_ingest import ingest_dag

kirz_ingest_gpu = ingest_dag("gpu", __doc__)
