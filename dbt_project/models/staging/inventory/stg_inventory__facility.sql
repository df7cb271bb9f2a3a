-- Facility figures and master data of the inventory: the latest delivered row per cluster
-- (highest ingest_id), from the rows of every delivery.

with

deliveries as (

    select * from {{ ref('stg_inventory__facility_deliveries') }}

),

latest as (

    select * from deliveries
    qualify row_number() over (
        partition by cluster
        order by ingest_id desc, line_no desc
    ) = 1

),

final as (

    select
        cluster,
        floor_area_m2,
        design_it_power_kw,
        facility_name,
        operator,
        owner,
        contact,
        postcode,
        lau_code,
        nuts3,
        dc_type,
        commissioned_on,
        building_area_m2,
        rated_connection_kw,
        non_redundant_connection_kw,
        it_intake_setpoint_c,
        valid_from,
        ingest_id,
        received_at

    from latest

)

select * from final
