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
-- depends_on: {{ ref('stg_inventory__nodes') }}

-- IT energy of each job per local day (var timezone), from its node-minute parts: measured,
-- interpolated (samples held across bridged gaps) and estimated (busy time without samples),
-- and the coverage: the share of the job's node-seconds that had samples. Incremental by
-- local day like int_job_node_minute_energy.

{%- set window = energy_window(power=true, jobs=true, inventory=true) %}

with

job_node_minutes as (

    select * from {{ ref('int_job_node_minute_energy') }}
    where {{ energy_in_window(window, 'day') }}

),

daily as (

    select
        job_key,
        day,
        sum(measured_j) as measured_j,
        sum(interpolated_j) as interpolated_j,
        sum(estimated_j) as estimated_j,
        sum(overlap_s) as node_seconds,
        sum(covered_overlap_s) as covered_node_seconds,
        bool_and(has_power_model) as has_power_model,
        max(power_ingest_id) as power_ingest_id,
        max(job_ingest_id) as job_ingest_id,
        max(inventory_ingest_id) as inventory_ingest_id
    from job_node_minutes
    group by job_key, day

),

final as (

    select
        job_key || '|' || cast(day as varchar) as job_day_key,
        job_key,
        day,
        (measured_j + interpolated_j + estimated_j) / 3600000 as it_energy_kwh,
        measured_j / 3600000 as measured_kwh,
        interpolated_j / 3600000 as interpolated_kwh,
        estimated_j / 3600000 as estimated_kwh,
        case when node_seconds > 0 then covered_node_seconds / node_seconds else 0 end as coverage,
        node_seconds,
        has_power_model,
        power_ingest_id,
        job_ingest_id,
        inventory_ingest_id
    from daily

)

select * from final
