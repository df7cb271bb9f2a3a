-- Nodes of the inventory, one row per node: the latest delivered description of each
-- (highest ingest_id, then line_no). A node left out of a later inventory keeps its last
-- description, so that its past samples and jobs can still be weighted and estimated.
-- Which description is in force on which day is marts.dim_node.

with

deliveries as (

    select * from {{ ref('stg_inventory__node_deliveries') }}

),

latest as (

    select * from deliveries
    qualify row_number() over (
        partition by node
        order by ingest_id desc, line_no desc
    ) = 1

),

final as (

    select
        node,
        cluster,
        partition,
        rack,
        gpu_model,
        gpus,
        cpus,
        idle_w,
        max_w,
        valid_from,
        ingest_id = max(ingest_id) over () as is_in_latest_delivery,
        ingest_id,
        received_at

    from latest

)

select * from final
