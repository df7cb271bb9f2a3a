-- The facility row of every inventory delivery (one per delivered file): figures, master
-- data and the delivery's valid_from. Every delivery has exactly one, so this is also the
-- list of deliveries (marts.dim_node dates its node rows by it).

with

source as (

    select * from {{ source('raw', 'inventory_facility') }}

),

renamed as (

    select
        ingest_id,
        cluster,
        cast(valid_from as date) as valid_from,
        cast(floor_area_m2 as double) as floor_area_m2,
        cast(design_it_power_kw as double) as design_it_power_kw,
        name as facility_name,
        operator,
        owner,
        contact,
        postcode,
        lau_code,
        nuts3,
        dc_type,
        cast(commissioned_on as date) as commissioned_on,
        cast(building_area_m2 as double) as building_area_m2,
        cast(rated_connection_kw as double) as rated_connection_kw,
        cast(non_redundant_connection_kw as double) as non_redundant_connection_kw,
        cast(it_intake_setpoint_c as double) as it_intake_setpoint_c,
        received_at,
        source_file,
        line_no

    from source

),

final as (

    select * from renamed

)

select * from final
