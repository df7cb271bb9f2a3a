-- Nodes of the inventory, one row per node: the latest delivered description of each
-- (highest ingest_id, then line_no). A node left out of a later inventory keeps its last
-- description, so that its past samples and jobs can still be weighted and estimated.

with

source as (

    select * from {{ source('raw', 'inventory_nodes') }}

),

latest as (

    select * from source
    qualify row_number() over (
        partition by node
        order by ingest_id desc, line_no desc
    ) = 1

),

renamed as (

    select
        node,
        cluster,
        partition,
        rack,
        cast(coalesce(gpus, 0) as integer) as gpus,
        cast(cpus as integer) as cpus,
        cast(idle_w as double) as idle_w,
        cast(max_w as double) as max_w,
        ingest_id = max(ingest_id) over () as is_in_latest_delivery,
        ingest_id,
        received_at

    from latest

),

final as (

    select * from renamed

)

select * from final
