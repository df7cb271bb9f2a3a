-- Facility figures of the inventory: the latest delivered row per cluster.

with

source as (

    select * from {{ source('raw', 'inventory_facility') }}

),

latest as (

    select * from source
    qualify row_number() over (
        partition by cluster
        order by ingest_id desc, line_no desc
    ) = 1

),

renamed as (

    select
        cluster,
        cast(floor_area_m2 as double) as floor_area_m2,
        cast(design_it_power_kw as double) as design_it_power_kw,
        ingest_id,
        received_at

    from latest

),

final as (

    select * from renamed

)

select * from final
