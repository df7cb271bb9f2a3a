-- Energy invariant per node-minute: the jobs' sample-based parts plus idle energy
-- E(n,m) x (1 - occ(n,m)) equal the node's energy E(n,m), up to float rounding (1e-9
-- relative). A job part in a minute without samples must be zero. One row per violation.
-- occ(n,m) is the one stored with the job parts; an incremental run checks the days it
-- recomputed (macro changed_days), a full build every day.

with

node_minutes as (

    select * from {{ ref('int_node_minute_energy') }}
    where {{ changed_days('day') }}

),

job_parts as (

    select
        node,
        minute_at,
        sum(sampled_j) as job_j,
        sum(job_share) as shares,
        max(occupancy) as occupancy
    from {{ ref('int_job_node_minute_energy') }}
    where {{ changed_days('day') }}
    group by node, minute_at

),

checked as (

    select
        coalesce(node_minutes.node, job_parts.node) as node,
        coalesce(node_minutes.minute_at, job_parts.minute_at) as minute_at,
        coalesce(node_minutes.energy_j, 0) as energy_j,
        coalesce(job_parts.job_j, 0) as job_j,
        coalesce(node_minutes.energy_j, 0) * (1 - coalesce(job_parts.occupancy, 0)) as idle_j,
        job_parts.shares
    from node_minutes
    full outer join job_parts
        on node_minutes.node = job_parts.node
        and node_minutes.minute_at = job_parts.minute_at

)

select *
from checked
where {{ conservation_violated('job_j + idle_j', 'energy_j') }}
   or (shares is not null and {{ conservation_violated('shares', '1') }})
