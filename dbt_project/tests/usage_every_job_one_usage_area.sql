-- Conservation: every started allocation appears exactly once in fct_job_usage with one
-- usage area, and all of its job-days carry that same area. Returns the offending jobs.

with

started as (

    select job_key from {{ ref('int_jobs_resolved') }}
    where start_at is not null

),

job_rows as (

    select job_key, count(*) as n_rows, count(usage_area) as n_areas
    from {{ ref('fct_job_usage') }}
    group by job_key

),

day_areas as (

    select job_key, count(distinct usage_area) as n_day_areas
    from {{ ref('int_job_days_accounted') }}
    group by job_key

)

select
    coalesce(started.job_key, job_rows.job_key) as job_key,
    job_rows.n_rows,
    job_rows.n_areas,
    day_areas.n_day_areas
from started
full outer join job_rows
    on started.job_key = job_rows.job_key
left join day_areas
    on coalesce(started.job_key, job_rows.job_key) = day_areas.job_key
where started.job_key is null
   or job_rows.job_key is null
   or job_rows.n_rows <> 1
   or job_rows.n_areas <> 1
   or coalesce(day_areas.n_day_areas, 1) <> 1
