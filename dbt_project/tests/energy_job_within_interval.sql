-- No job gets energy outside its interval: every job-node-minute with energy lies on one of
-- the job's allocated nodes, overlaps [start_at, end_at) by overlap_s seconds (0 < overlap_s
-- <= 60, matching the interval), and every job-day lies within the job's local days.
-- One row per violation.

with

parts as (

    select * from {{ ref('int_job_node_minute_energy') }}
    where {{ changed_days('day') }}

),

allocations as (

    select * from {{ ref('int_job_node_allocations') }}

),

job_days as (

    select * from {{ ref('int_job_energy_daily') }}
    where {{ changed_days('day') }}

),

minute_checks as (

    select
        parts.job_key,
        parts.node,
        parts.minute_at,
        parts.overlap_s,
        allocations.start_at,
        allocations.end_at,
        'minute outside the job interval' as problem
    from parts
    left join allocations
        on parts.job_key = allocations.job_key
        and parts.node = allocations.node
    where (parts.sampled_j <> 0 or parts.estimated_j <> 0)
      and (
          allocations.job_key is null
          or parts.overlap_s <= 0
          or parts.overlap_s > 60
          or abs(
              parts.overlap_s
              - (epoch(least(allocations.end_at, parts.minute_at + interval '1 minute'))
                 - epoch(greatest(allocations.start_at, parts.minute_at)))
          ) > 1e-6
      )

),

day_checks as (

    select
        job_days.job_key,
        null as node,
        null as minute_at,
        null as overlap_s,
        job_bounds.start_at,
        job_bounds.end_at,
        'day outside the job interval' as problem
    from job_days
    left join (
        select
            job_key,
            min(start_at) as start_at,
            max(end_at) as end_at
        from allocations
        group by job_key
    ) as job_bounds on job_days.job_key = job_bounds.job_key
    where job_days.it_energy_kwh <> 0
      and (
          job_bounds.job_key is null
          or job_days.day < {{ local_date('job_bounds.start_at') }}
          or job_days.day > {{ local_date("job_bounds.end_at - interval '1 microsecond'") }}
      )

)

select * from minute_checks
union all
select * from day_checks
