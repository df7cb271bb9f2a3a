-- Energy invariant per node and day, and over the whole mart: the jobs' sample-based energy
-- plus idle energy equals the node energy integrated from samples (var conservation_tolerance). An
-- incremental run checks the days it recomputed (macro changed_days), a full build all days.
-- One row per violation.

with

node_daily as (

    select * from {{ ref('int_node_energy_daily') }}
    where {{ changed_days('day') }}

),

job_daily as (

    select
        node,
        day,
        sum(sampled_j) / 3600000 as job_kwh
    from {{ ref('int_job_node_minute_energy') }}
    where {{ changed_days('day') }}
    group by node, day

),

mart as (

    select * from {{ ref('fct_energy_daily') }}
    where {{ changed_days('day') }}

),

per_node_day as (

    select
        'node-day' as scope,
        coalesce(node_daily.node, job_daily.node) || ' ' || cast(coalesce(node_daily.day, job_daily.day) as varchar)
            as what,
        coalesce(node_daily.node_kwh, 0) as node_kwh,
        coalesce(node_daily.idle_kwh, 0) + coalesce(job_daily.job_kwh, 0) as job_and_idle_kwh
    from node_daily
    full outer join job_daily
        on node_daily.node = job_daily.node
        and node_daily.day = job_daily.day

),

in_total as (

    select
        'total' as scope,
        'checked days' as what,
        (select coalesce(sum(node_kwh), 0) from mart) as node_kwh,
        (select coalesce(sum(idle_node_kwh), 0) from mart)
        + (select coalesce(sum(job_kwh), 0) from job_daily) as job_and_idle_kwh

),

checked as (

    select * from per_node_day
    union all
    select * from in_total

)

select *
from checked
where {{ conservation_violated('job_and_idle_kwh', 'node_kwh') }}
