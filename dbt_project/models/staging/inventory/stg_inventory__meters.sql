-- Facility meters of the inventory, one row per meter: the latest delivered description.
-- Rows delivered before the inventory carried units are read in their kind's unit.

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
        coalesce(
            unit,
            case lower(kind)
                when 'water_intake' then 'm3'
                when 'temperature' then 'degC'
                else 'kWh'
            end
        ) as unit,
        potable as is_potable,
        of_meter_id,
        cast(pue_category as integer) as pue_category,
        cast(valid_from as date) as valid_from,
        ingest_id = max(ingest_id) over () as is_in_latest_delivery,
        ingest_id,
        received_at

    from latest

),

final as (

    select * from renamed

)

select * from final
