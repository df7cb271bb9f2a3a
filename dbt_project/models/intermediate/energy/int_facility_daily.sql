-- The facility's size figures in force on each local day of the calendar, from the inventory
-- delivery in force that day (the delivery spans of marts.dim_node: a delivery takes effect on
-- its valid_from, else the first on 1970-01-01 and a later one on the day it was received, until
-- the next takes effect), with whether the day is in operation (int_capacity_daily). P_DIT and
-- the computer-room floor area fall back to the vars design_it_power_kw and floor_area_m2 when
-- no inventory gives them; the other figures have no fallback (unknown stays null).

with

capacity as (

    select * from {{ ref('int_capacity_daily') }}

),

nodes as (

    select * from {{ ref('dim_node') }}

),

deliveries as (

    select * from {{ ref('stg_inventory__facility_deliveries') }}

),

spans as (

    select distinct ingest_id, valid_from, valid_to from nodes

),

in_force as (

    select
        capacity.day,
        deliveries.ingest_id,
        deliveries.design_it_power_kw,
        deliveries.floor_area_m2,
        deliveries.building_area_m2,
        deliveries.rated_connection_kw,
        deliveries.non_redundant_connection_kw,
        deliveries.it_intake_setpoint_c
    from capacity
    inner join spans
        on capacity.day >= spans.valid_from
       and capacity.day <= coalesce(spans.valid_to, date '9999-12-31')
    inner join deliveries
        on spans.ingest_id = deliveries.ingest_id
    qualify row_number() over (partition by capacity.day order by deliveries.ingest_id desc) = 1

),

final as (

    select
        capacity.day,
        capacity.hours,
        capacity.is_in_operation,
        in_force.ingest_id as facility_ingest_id,
        coalesce(in_force.design_it_power_kw, {{ var('design_it_power_kw') }}) as design_it_power_kw,
        coalesce(in_force.floor_area_m2, {{ var('floor_area_m2') }}) as floor_area_m2,
        in_force.building_area_m2,
        in_force.rated_connection_kw,
        in_force.non_redundant_connection_kw,
        in_force.it_intake_setpoint_c
    from capacity
    left join in_force
        on capacity.day = in_force.day

)

select * from final
