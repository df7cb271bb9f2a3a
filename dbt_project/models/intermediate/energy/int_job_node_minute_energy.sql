{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ energy_delete_window(power=true, jobs=true, inventory=true) }}"
    )
}}

-- the recomputed days (macro energy_window) come from these deliveries:
-- depends_on: {{ ref('stg_power__node_samples') }}
-- depends_on: {{ ref('stg_slurm__jobs') }}

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
--
-- Incremental by local day: new power samples, new versions of jobs (old and new intervals)
-- and a new inventory decide the days recomputed (macro energy_window).

{%- set window = energy_window(power=true, jobs=true, inventory=true) %}
{%- set load_factor = var('energy_estimate_load_factor') %}
{%- set bounded = window is not none and not window.get('all') and not window.get('empty') %}

with

allocations as (

    select * from {{ ref('int_job_node_allocations') }}

),

node_minutes as (

    select * from {{ ref('int_node_minute_energy') }}

),

inventory as (

    select * from {{ ref('stg_inventory__nodes') }}

),

node_numbers as (

    -- a dense integer per node with jobs: node and minute pack into one bigint join key
    select
        node,
        row_number() over (order by node) as node_no
    from (select distinct node from allocations) as names

),

intervals as (

    -- job intervals in epoch microseconds, clipped to the recomputed days
    select
        allocations.job_key,
        node_numbers.node_no,
        allocations.gpus_on_node,
        allocations.cpus_on_node,
        allocations.weight_unit,
        allocations.job_ingest_id,
        {% if bounded %}
        greatest(epoch_us(allocations.start_at), epoch_us({{ local_day_start("date '" ~ window.first ~ "'") }})) as start_us,
        least(epoch_us(allocations.end_at), epoch_us({{ local_day_end("date '" ~ window.last ~ "'") }})) as end_us
        {% else %}
        epoch_us(allocations.start_at) as start_us,
        epoch_us(allocations.end_at) as end_us
        {% endif %}
    from allocations
    inner join node_numbers on allocations.node = node_numbers.node
    {% if bounded %}
    where allocations.end_at > {{ local_day_start("date '" ~ window.first ~ "'") }}
      and allocations.start_at < {{ local_day_end("date '" ~ window.last ~ "'") }}
    {% elif window is not none and window.get('empty') %}
    where false
    {% endif %}

),

occupied as (

    select
        node * 4294967296 + minute_no as node_minute_key,
        occupied_us
    from (
        {{ energy_occupied_minutes('(select node_no as node, start_us, end_us from intervals)') | indent(8) }}
    ) as occupied_minutes

),

job_minutes as (

    select
        job_key,
        node_no,
        gpus_on_node,
        cpus_on_node,
        weight_unit,
        job_ingest_id,
        minute_no,
        node_no * 4294967296 + minute_no as node_minute_key,
        (least(end_us, (minute_no + 1) * 60000000) - greatest(start_us, minute_no * 60000000)) / 1e6
            as overlap_s
    from (
        select
            *,
            unnest(range(start_us // 60000000, (end_us - 1) // 60000000 + 1)) as minute_no
        from intervals
    ) as allocation_minutes

),

minute_weights as (

    select
        node_minute_key,
        sum(gpus_on_node * overlap_s) as gpu_weight,
        sum(cpus_on_node * overlap_s) as cpu_weight,
        sum(overlap_s) as time_weight
    from job_minutes
    group by node_minute_key

),

sampled_minutes as (

    select
        node_numbers.node_no * 4294967296 + epoch_us(node_minutes.minute_at) // 60000000 as node_minute_key,
        node_minutes.measured_j,
        node_minutes.interpolated_j,
        node_minutes.covered_s,
        node_minutes.power_ingest_id
    from node_minutes
    inner join node_numbers on node_minutes.node = node_numbers.node
    where {{ energy_in_window(window, 'node_minutes.day') }}

),

node_models as (

    select
        node_numbers.node_no,
        node_numbers.node,
        inventory.gpus,
        inventory.cpus,
        inventory.idle_w,
        inventory.max_w
    from node_numbers
    left join inventory on node_numbers.node = inventory.node

),

shared as (

    select
        job_minutes.job_key,
        node_models.node,
        job_minutes.minute_no,
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
            when job_minutes.weight_unit = 'gpu' and minute_weights.gpu_weight > 0 and node_models.gpus > 0
                then least(1, minute_weights.gpu_weight / (node_models.gpus * occupied.occupied_us / 1e6))
            when minute_weights.cpu_weight > 0 and node_models.cpus > 0
                then least(1, minute_weights.cpu_weight / (node_models.cpus * occupied.occupied_us / 1e6))
            else 1
        end as allocated_share,
        occupied.occupied_us / 1e6 as occupied_s,
        occupied.occupied_us / 6e7 as occupancy,
        coalesce(sampled_minutes.measured_j, 0) as node_measured_j,
        coalesce(sampled_minutes.interpolated_j, 0) as node_interpolated_j,
        coalesce(sampled_minutes.covered_s, 0) as covered_s,
        node_models.idle_w,
        node_models.max_w,
        sampled_minutes.power_ingest_id,
        job_minutes.job_ingest_id,
        -- the inventory delivery in use: a new one recomputes every row
        (select max(ingest_id) from inventory) as inventory_ingest_id
    from job_minutes
    inner join minute_weights on job_minutes.node_minute_key = minute_weights.node_minute_key
    inner join occupied on job_minutes.node_minute_key = occupied.node_minute_key
    left join sampled_minutes on job_minutes.node_minute_key = sampled_minutes.node_minute_key
    inner join node_models on job_minutes.node_no = node_models.node_no

),

day_map as (

    {{ quarter_hour_days('job_minutes') }}

),

timed as (

    select
        shared.*,
        make_timestamptz(shared.minute_no * 60000000) as minute_at,
        day_map.day
    from shared
    inner join day_map on shared.minute_no // 15 = day_map.quarter_no

),

final as (

    select
        job_key,
        node,
        minute_at,
        day,
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
        idle_w is not null and max_w is not null as has_power_model,
        power_ingest_id,
        job_ingest_id,
        inventory_ingest_id
    from timed

)

select * from final
