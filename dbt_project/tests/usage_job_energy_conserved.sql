-- Conservation: the IT energy of the jobs in fct_job_usage and of the days in
-- fct_usage_daily both equal the job energy of int_job_energy_daily for started jobs
-- (var conservation_tolerance): no attributed energy is lost or counted twice.

with

started as (

    select job_key from {{ ref('int_jobs_resolved') }}
    where start_at is not null

),

attributed as (

    select coalesce(sum(it_energy_kwh), 0) as kwh
    from {{ ref('int_job_energy_daily') }}
    where job_key in (select job_key from started)

),

per_job as (

    select coalesce(sum(it_energy_kwh), 0) as kwh from {{ ref('fct_job_usage') }}

),

per_day as (

    select coalesce(sum(it_energy_kwh), 0) as kwh from {{ ref('fct_usage_daily') }}

)

select
    attributed.kwh as attributed_kwh,
    per_job.kwh as job_kwh,
    per_day.kwh as daily_kwh
from attributed, per_job, per_day
where {{ conservation_violated('attributed.kwh', 'per_job.kwh') }}
   or {{ conservation_violated('attributed.kwh', 'per_day.kwh') }}
