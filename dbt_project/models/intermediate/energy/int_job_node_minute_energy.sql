-- A job's part of each node-minute it ran in. Job minutes are generated only on the job's own
-- nodes, from its allocation interval (no cross join with all node-minutes).
--
-- Sample-based energy: E(n,m) x occ(n,m) x w_j / sum(w), with w = the job's GPUs on the node
-- (CPUs on CPU-only nodes) x seconds of overlap in the minute; when every job in the minute
-- has weight 0 in that unit, CPUs, then seconds, weigh instead, so the shares always add up
-- to 1 and the job parts plus idle energy E x (1 - occ) equal E exactly.
--
-- Estimated energy covers the busy time the samples miss: occupied seconds x (1 - covered
-- seconds / 60) at idle_w + (max_w - idle_w) x allocated share x 0.8 (load factor), split by
-- the same shares. The allocated share is the busy-time average of the allocated GPUs over
-- the node's GPUs (CPUs over CPUs where the weights fall back to CPUs), at most 1, and 1 when
-- nothing is known. Nodes missing from the inventory get no estimate.

{%- set load_factor = var('energy_estimate_load_factor', 0.8) %}

with

allocations as (

    select * from {{ ref('int_job_node_allocations') }}

),

occupancy as (

    select * from {{ ref('int_node_minute_occupancy') }}

),

node_minutes as (

    select * from {{ ref('int_node_minute_energy') }}

),

inventory as (

    select * from {{ ref('stg_inventory__nodes') }}

),

allocation_minutes as (

    select
        job_key,
        node,
        gpus_on_node,
        cpus_on_node,
        weight_unit,
        start_us,
        end_us,
        unnest(range(start_us // 60000000, (end_us - 1) // 60000000 + 1)) as minute_no
    from (
        select
            *,
            epoch_us(start_at) as start_us,
            epoch_us(end_at) as end_us
        from allocations
    ) as allocation_bounds

),

job_minutes as (

    select
        job_key,
        node,
        make_timestamptz(minute_no * 60000000) as minute_at,
        weight_unit,
        gpus_on_node,
        cpus_on_node,
        (least(end_us, (minute_no + 1) * 60000000) - greatest(start_us, minute_no * 60000000)) / 1e6
            as overlap_s
    from allocation_minutes

),

minute_weights as (

    select
        node,
        minute_at,
        sum(gpus_on_node * overlap_s) as gpu_weight,
        sum(cpus_on_node * overlap_s) as cpu_weight,
        sum(overlap_s) as time_weight
    from job_minutes
    group by node, minute_at

),

shared as (

    select
        job_minutes.job_key,
        job_minutes.node,
        job_minutes.minute_at,
        job_minutes.overlap_s,
        job_minutes.weight_unit,
        case
            when job_minutes.weight_unit = 'gpu' and minute_weights.gpu_weight > 0
                then job_minutes.gpus_on_node * job_minutes.overlap_s / minute_weights.gpu_weight
            when minute_weights.cpu_weight > 0
                then job_minutes.cpus_on_node * job_minutes.overlap_s / minute_weights.cpu_weight
            else job_minutes.overlap_s / minute_weights.time_weight
        end as job_share,
        case
            when job_minutes.weight_unit = 'gpu' and minute_weights.gpu_weight > 0 and inventory.gpus > 0
                then least(1, minute_weights.gpu_weight / (inventory.gpus * occupancy.occupied_s))
            when minute_weights.cpu_weight > 0 and inventory.cpus > 0
                then least(1, minute_weights.cpu_weight / (inventory.cpus * occupancy.occupied_s))
            else 1
        end as allocated_share,
        occupancy.occupied_s,
        occupancy.occupancy,
        coalesce(node_minutes.measured_j, 0) as node_measured_j,
        coalesce(node_minutes.interpolated_j, 0) as node_interpolated_j,
        coalesce(node_minutes.covered_s, 0) as covered_s,
        inventory.idle_w,
        inventory.max_w
    from job_minutes
    inner join minute_weights
        on job_minutes.node = minute_weights.node
        and job_minutes.minute_at = minute_weights.minute_at
    inner join occupancy
        on job_minutes.node = occupancy.node
        and job_minutes.minute_at = occupancy.minute_at
    left join node_minutes
        on job_minutes.node = node_minutes.node
        and job_minutes.minute_at = node_minutes.minute_at
    left join inventory
        on job_minutes.node = inventory.node

),

final as (

    select
        job_key,
        node,
        minute_at,
        {{ local_date('minute_at') }} as day,
        overlap_s,
        weight_unit,
        job_share,
        occupancy,
        covered_s,
        (node_measured_j + node_interpolated_j) * occupancy * job_share as sampled_j,
        node_measured_j * occupancy * job_share as measured_j,
        node_interpolated_j * occupancy * job_share as interpolated_j,
        coalesce(
            (idle_w + (max_w - idle_w) * allocated_share * {{ load_factor }})
            * occupied_s * (1 - covered_s / 60) * job_share,
            0
        ) as estimated_j,
        overlap_s * covered_s / 60 as covered_overlap_s,
        idle_w is not null and max_w is not null as has_power_model
    from shared

)

select * from final
