{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ energy_delete_window(power=true) }}"
    )
}}

-- the recomputed days (macro energy_window) come from these deliveries:
-- depends_on: {{ ref('stg_power__node_samples') }}

-- IT load per local day as seen by the node samples: the highest minute of summed node power
-- (the peak load on days without IT meter data). Incremental by local day like
-- int_node_minute_energy.

{%- set window = energy_window(power=true) %}

with

node_minutes as (

    select * from {{ ref('int_node_minute_energy') }}
    where {{ energy_in_window(window, 'day') }}

),

per_minute as (

    select
        day,
        minute_at,
        sum(energy_j) as energy_j,
        count(*) as nodes,
        max(power_ingest_id) as power_ingest_id
    from node_minutes
    group by day, minute_at

),

final as (

    select
        day,
        max(energy_j) / 60 / 1000 as peak_node_kw,
        max(nodes) as max_nodes_sampled,
        max(power_ingest_id) as power_ingest_id
    from per_minute
    group by day

)

select * from final
