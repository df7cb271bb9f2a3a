{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ energy_delete_window(power=true, jobs=true) }}"
    )
}}

-- the recomputed days (macro energy_window) come from these deliveries:
-- depends_on: {{ ref('stg_power__node_samples') }}
-- depends_on: {{ ref('stg_slurm__jobs') }}

-- Energy of each node per local day from its samples, split into the part attributed to jobs
-- and idle energy: idle = E(n,m) x (1 - occ(n,m)) summed over the day's minutes (occ as
-- stored with the job parts). Incremental by local day: new samples and new job versions
-- decide the days recomputed.

{%- set window = energy_window(power=true, jobs=true) %}

with

node_minutes as (

    select * from {{ ref('int_node_minute_energy') }}
    where {{ energy_in_window(window, 'day') }}

),

job_node_minutes as (

    select * from {{ ref('int_job_node_minute_energy') }}
    where {{ energy_in_window(window, 'day') }}

),

occupancy as (

    select
        node,
        minute_at,
        max(occupancy) as occupancy,
        max(job_ingest_id) as job_ingest_id
    from job_node_minutes
    group by node, minute_at

),

attributed as (

    select
        node_minutes.node,
        node_minutes.day,
        node_minutes.energy_j,
        node_minutes.energy_j * (1 - coalesce(occupancy.occupancy, 0)) as idle_j,
        node_minutes.measured_j,
        node_minutes.interpolated_j,
        node_minutes.covered_s,
        node_minutes.power_ingest_id,
        occupancy.job_ingest_id
    from node_minutes
    left join occupancy
        on node_minutes.node = occupancy.node
        and node_minutes.minute_at = occupancy.minute_at

),

final as (

    select
        node,
        day,
        sum(energy_j) / 3600000 as node_kwh,
        sum(idle_j) / 3600000 as idle_kwh,
        (sum(energy_j) - sum(idle_j)) / 3600000 as job_kwh,
        sum(measured_j) / 3600000 as measured_kwh,
        sum(interpolated_j) / 3600000 as interpolated_kwh,
        sum(covered_s) as covered_s,
        max(power_ingest_id) as power_ingest_id,
        max(job_ingest_id) as job_ingest_id
    from attributed
    group by node, day

)

select * from final
