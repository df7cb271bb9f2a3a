{{ config(severity='warn') }}

-- GPU use measured two ways agrees: for every job with both DCGM samples and Slurm's
-- gres/gpuutil, the two utilisation figures (int_job_gpu_use) differ by at most
-- var('gpu_util_sources_tolerance_pct') percentage points. A warning, not an error: Slurm's
-- figure is averaged over a step's tasks, so a step running several GPUs from one task (or
-- several tasks on one GPU) reads differently; the rows returned are the jobs to look at.

select
    job_key,
    gpu_use_source,
    dcgm_gpu_used_pct,
    sacct_gpu_util_pct,
    dcgm_gpu_used_pct - sacct_gpu_util_pct as difference_pct_points
from {{ ref('int_job_gpu_use') }}
where dcgm_gpu_used_pct is not null
  and sacct_gpu_util_pct is not null
  and abs(dcgm_gpu_used_pct - sacct_gpu_util_pct) > {{ var('gpu_util_sources_tolerance_pct') }}
