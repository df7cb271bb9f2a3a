-- Facility meters of the inventory, one row per meter: the latest delivered description.

with

source as (

    select * from {{ source('raw', 'inventory_meters') }}

),

latest as (

    select * from source
    qualify row_number() over (
        partition by meter_id
        order by ingest_id desc, line_no desc
    ) = 1

),

renamed as (

    select
        meter_id,
        cluster,
        lower(kind) as kind,
        parent_meter_id,
        ingest_id = max(ingest_id) over () as is_in_latest_delivery,
        ingest_id,
        received_at

    from latest

),

final as (

    select * from renamed

)

select * from final
