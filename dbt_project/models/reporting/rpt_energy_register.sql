-- The content of the register of data centres for each year (EnEfG § 13 Abs. 1 and Anlage 3;
-- Delegated Regulation (EU) 2024/1364 Annexes I to III): the operator's master data from the
-- inventory delivery in force on the year's last day in operation, the period in operation, the
-- size class of Anlage 3 Nr. 1 c, and the year's figures (rpt_energy_figures). A value the data do
-- not give stays null: the export lists it as missing. kirz report --kind energy_register reads it.

with

figures as (

    select * from {{ ref('rpt_energy_figures') }}
    where period_type = 'year'

),

facility_daily as (

    select * from {{ ref('int_facility_daily') }}

),

deliveries as (

    select * from {{ ref('stg_inventory__facility_deliveries') }}

),

operation as (

    select
        year(day) as year,
        min(day) filter (where is_in_operation) as operation_from,
        max(day) filter (where is_in_operation) as operation_to,
        coalesce(
            arg_max(facility_ingest_id, day) filter (where is_in_operation and facility_ingest_id is not null),
            arg_max(facility_ingest_id, day) filter (where facility_ingest_id is not null)
        ) as facility_ingest_id
    from facility_daily
    group by year(day)

),

final as (

    select
        figures.year,
        operation.operation_from,
        operation.operation_to,
        figures.days_in_operation,
        figures.days_in_period,
        figures.days_in_operation = figures.days_in_period as is_full_year,
        deliveries.facility_name,
        deliveries.owner,
        deliveries.operator,
        deliveries.contact,
        deliveries.postcode,
        deliveries.lau_code,
        deliveries.nuts3,
        deliveries.dc_type,
        deliveries.commissioned_on,
        strftime(deliveries.commissioned_on, '%Y-%m') as entry_into_operation,
        case
            when figures.design_it_power_kw is null then null
            when figures.design_it_power_kw < 500 then '< 500 kW'
            when figures.design_it_power_kw < 1000 then '< 1 MW'
            when figures.design_it_power_kw < 5000 then '< 5 MW'
            when figures.design_it_power_kw < 10000 then '< 10 MW'
            when figures.design_it_power_kw < 50000 then '< 50 MW'
            when figures.design_it_power_kw < 100000 then '< 100 MW'
            else '>= 100 MW'
        end as size_class,
        figures.design_it_power_kw,
        figures.floor_area_m2,
        figures.building_area_m2,
        deliveries.rated_connection_kw,
        deliveries.non_redundant_connection_kw,
        deliveries.it_intake_setpoint_c,
        figures.grid_intake_kwh,
        figures.grid_export_kwh,
        figures.onsite_generation_kwh,
        figures.dc_kwh,
        figures.dc_bg_kwh,
        figures.it_kwh,
        figures.pue_category,
        figures.pue,
        figures.pue_days,
        figures.pue_days_left_out,
        figures.pue_days_left_out_list,
        figures.heat_reuse_kwh,
        figures.heat_reuse_temp_c,
        figures.erf,
        figures.heat_released_kwh,
        figures.heat_released_temp_c,
        figures.cooling_kwh,
        figures.heat_removed_kwh,
        figures.cer,
        figures.water_intake_m3,
        figures.water_potable_m3,
        figures.wue_l_per_kwh,
        figures.has_ledger,
        figures.eres_goo_kwh,
        figures.eres_ppa_kwh,
        figures.eres_os_kwh,
        figures.eres_tot_kwh,
        figures.ref
    from figures
    left join operation
        on figures.year = operation.year
    left join deliveries
        on operation.facility_ingest_id = deliveries.ingest_id

)

select * from final
