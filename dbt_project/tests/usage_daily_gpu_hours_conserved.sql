-- Conservation: GPU-hours and core-hours summed over fct_usage_daily equal those summed over
-- fct_job_usage (var conservation_tolerance), overall and per usage area.

with

daily as (

    select usage_area, sum(gpu_hours) as gpu_hours, sum(cpu_core_hours) as cpu_core_hours
    from {{ ref('fct_usage_daily') }}
    group by usage_area

),

jobs as (

    select usage_area, sum(gpu_hours) as gpu_hours, sum(cpu_core_hours) as cpu_core_hours
    from {{ ref('fct_job_usage') }}
    group by usage_area

)

select
    coalesce(daily.usage_area, jobs.usage_area) as usage_area,
    daily.gpu_hours as daily_gpu_hours,
    jobs.gpu_hours as job_gpu_hours,
    daily.cpu_core_hours as daily_cpu_core_hours,
    jobs.cpu_core_hours as job_cpu_core_hours
from daily
full outer join jobs
    on daily.usage_area = jobs.usage_area
where {{ conservation_violated('coalesce(daily.gpu_hours, 0)', 'coalesce(jobs.gpu_hours, 0)') }}
   or {{ conservation_violated('coalesce(daily.cpu_core_hours, 0)', 'coalesce(jobs.cpu_core_hours, 0)') }}
