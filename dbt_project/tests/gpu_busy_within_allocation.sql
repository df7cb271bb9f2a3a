-- Busy GPU-hours are a part of the allocation: on every job-day with GPU samples,
-- 0 <= busy_gpu_hours <= gpu_hours (within var conservation_tolerance), and a job-day has a
-- source exactly when it has busy GPU-hours.

select
    job_key,
    day,
    gpu_hours,
    busy_gpu_hours,
    gpu_use_source
from {{ ref('int_job_days_accounted') }}
where busy_gpu_hours < 0
   or {{ conservation_exceeds('busy_gpu_hours', 'gpu_hours') }}
   or (busy_gpu_hours is null) <> (gpu_use_source is null)
