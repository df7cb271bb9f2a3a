-- Every node row of every inventory delivery (one row per delivery and node): the history
-- from which marts.dim_node builds the description in force on each day.

with

source as (

    select * from {{ source('raw', 'inventory_nodes') }}

),

renamed as (

    select
        cast(ingest_id as varchar) || '|' || node as node_delivery_key,
        ingest_id,
        node,
        cluster,
        partition,
        rack,
        gpu_model,
        cast(coalesce(gpus, 0) as integer) as gpus,
        cast(cpus as integer) as cpus,
        cast(idle_w as double) as idle_w,
        cast(max_w as double) as max_w,
        cast(valid_from as date) as valid_from,
        received_at,
        source_file,
        line_no

    from source

),

final as (

    select * from renamed

)

select * from final
