-- The statutory energy figures per month, quarter and year (EN 50600-4-x; EnEfG § 13 and
-- Anlage 3; Delegated Regulation (EU) 2024/1364 Annexes II and III), with their coverage.
--
-- Energy totals add up the days of the period (int_energy_figures_daily). PUE = E_DC / E_IT
-- over the PUE days only (E_DC and E_IT both measured); the period's other days in operation
-- are left out and listed. ERF = E_REUSE / E_DC, WUE = water intake (L) / E_IT (kWh) and
-- CER = heat removed / cooling energy are taken over the days where both of their figures have
-- data. The mean temperature of the heat delivered (and released) is weighted by the heat of
-- each day. REF is the annual balance of the year's certificate ledger (int_energy_ledger_yearly),
-- shown on every period of the year; the ERES figures on the year's row. P_DIT and the floor
-- areas are time-weighted over the period's days in operation (hours). CO2: location-based =
-- E_DC x the year's grid factor; market-based = E_DC x (1 - REF, at most 1) x the residual mix
-- (the energy the ledger does not cover; no ledger, no cover).

with

periods as (

    select * from {{ ref('int_calendar_periods') }}
    where period_type in ('month', 'quarter', 'year')

),

figures as (

    select * from {{ ref('int_energy_figures_daily') }}

),

facility as (

    select * from {{ ref('int_facility_daily') }}

),

ledger as (

    select * from {{ ref('int_energy_ledger_yearly') }}

),

factors as (

    select * from {{ ref('int_emission_factors_yearly') }}

),

days as (

    select
        periods.period_type,
        periods.period,
        periods.period_start,
        periods.period_end,
        periods.day,
        periods.hours,
        coalesce(facility.is_in_operation, false) as is_in_operation,
        facility.design_it_power_kw,
        facility.floor_area_m2,
        facility.building_area_m2,
        figures.day is not null as has_meter_data,
        figures.grid_intake_kwh,
        figures.grid_export_kwh,
        figures.onsite_generation_kwh,
        figures.backup_generator_kwh,
        figures.dc_kwh,
        figures.it_kwh,
        figures.cooling_kwh,
        figures.heat_removed_kwh,
        figures.heat_reuse_kwh,
        figures.heat_released_kwh,
        figures.heat_reuse_temp_c,
        figures.heat_released_temp_c,
        figures.water_intake_m3,
        figures.water_potable_m3,
        coalesce(figures.is_dc_measured, false) as is_dc_measured,
        coalesce(figures.is_it_measured, false) as is_it_measured,
        coalesce(figures.is_pue_day, false) as is_pue_day,
        figures.pue_category
    from periods
    left join facility
        on periods.day = facility.day
    left join figures
        on periods.day = figures.day

),

per_period as (

    select
        period_type,
        period,
        min(period_start) as period_start,
        min(period_end) as period_end,
        count(*) as days_in_period,
        count(*) filter (where is_in_operation) as days_in_operation,
        count(*) filter (where has_meter_data) as days_with_meter_data,
        sum(grid_intake_kwh) as grid_intake_kwh,
        sum(grid_export_kwh) as grid_export_kwh,
        sum(onsite_generation_kwh) as onsite_generation_kwh,
        sum(backup_generator_kwh) as dc_bg_kwh,
        sum(dc_kwh) as dc_kwh,
        sum(it_kwh) as it_kwh,
        max(pue_category) as pue_category,
        count(*) filter (where is_dc_measured) as dc_days_measured,
        count(*) filter (where is_it_measured) as it_days_measured,
        count(*) filter (where is_pue_day) as pue_days,
        sum(dc_kwh) filter (where is_pue_day) as pue_dc_kwh,
        sum(it_kwh) filter (where is_pue_day) as pue_it_kwh,
        count(*) filter (where is_in_operation and not is_pue_day) as pue_days_left_out,
        string_agg(strftime(day, '%Y-%m-%d'), ',' order by day) filter (where is_in_operation and not is_pue_day)
            as pue_days_left_out_list,
        sum(cooling_kwh) as cooling_kwh,
        sum(heat_removed_kwh) as heat_removed_kwh,
        sum(heat_removed_kwh) filter (where cooling_kwh is not null) as cer_heat_removed_kwh,
        sum(cooling_kwh) filter (where heat_removed_kwh is not null) as cer_cooling_kwh,
        count(*) filter (where heat_removed_kwh is not null and cooling_kwh is not null) as cer_days,
        sum(heat_reuse_kwh) as heat_reuse_kwh,
        sum(heat_reuse_kwh) filter (where dc_kwh is not null) as erf_reuse_kwh,
        sum(dc_kwh) filter (where heat_reuse_kwh is not null) as erf_dc_kwh,
        count(*) filter (where heat_reuse_kwh is not null and dc_kwh is not null) as erf_days,
        sum(heat_reuse_kwh * heat_reuse_temp_c)
            / nullif(sum(heat_reuse_kwh) filter (where heat_reuse_temp_c is not null), 0) as heat_reuse_temp_c,
        sum(heat_released_kwh) as heat_released_kwh,
        sum(heat_released_kwh * heat_released_temp_c)
            / nullif(sum(heat_released_kwh) filter (where heat_released_temp_c is not null), 0) as heat_released_temp_c,
        sum(water_intake_m3) as water_intake_m3,
        sum(water_potable_m3) as water_potable_m3,
        sum(water_intake_m3) filter (where it_kwh is not null) as wue_water_m3,
        sum(it_kwh) filter (where water_intake_m3 is not null) as wue_it_kwh,
        count(*) filter (where water_intake_m3 is not null and it_kwh is not null) as wue_days,
        sum(hours) filter (where is_in_operation) as hours_in_operation,
        sum(design_it_power_kw * hours) filter (where is_in_operation) as design_it_power_kwh,
        sum(floor_area_m2 * hours) filter (where is_in_operation) as floor_area_m2_hours,
        sum(building_area_m2 * hours) filter (where is_in_operation and building_area_m2 is not null)
            as building_area_m2_hours,
        sum(hours) filter (where is_in_operation and building_area_m2 is not null) as building_area_hours
    from days
    group by period_type, period

),

final as (

    select
        per_period.period_type || '|' || per_period.period as period_key,
        per_period.period_type,
        per_period.period,
        per_period.period_start,
        per_period.period_end,
        cast(year(per_period.period_start) as integer) as year,
        cast(per_period.days_in_period as integer) as days_in_period,
        cast(per_period.days_in_operation as integer) as days_in_operation,
        cast(per_period.days_with_meter_data as integer) as days_with_meter_data,
        per_period.days_with_meter_data < per_period.days_in_period as is_partial,
        per_period.grid_intake_kwh,
        per_period.grid_export_kwh,
        per_period.onsite_generation_kwh,
        per_period.dc_bg_kwh,
        per_period.dc_kwh,
        per_period.it_kwh,
        cast(per_period.pue_category as integer) as pue_category,
        cast(per_period.dc_days_measured as integer) as dc_days_measured,
        cast(per_period.it_days_measured as integer) as it_days_measured,
        cast(per_period.pue_days as integer) as pue_days,
        per_period.pue_dc_kwh,
        per_period.pue_it_kwh,
        case when per_period.pue_it_kwh > 0 then per_period.pue_dc_kwh / per_period.pue_it_kwh end as pue,
        cast(per_period.pue_days_left_out as integer) as pue_days_left_out,
        coalesce(per_period.pue_days_left_out_list, '') as pue_days_left_out_list,
        per_period.heat_reuse_kwh,
        per_period.heat_reuse_temp_c,
        cast(per_period.erf_days as integer) as erf_days,
        case when per_period.erf_dc_kwh > 0 then per_period.erf_reuse_kwh / per_period.erf_dc_kwh end as erf,
        per_period.heat_released_kwh,
        per_period.heat_released_temp_c,
        per_period.cooling_kwh,
        per_period.heat_removed_kwh,
        cast(per_period.cer_days as integer) as cer_days,
        case when per_period.cer_cooling_kwh > 0 then per_period.cer_heat_removed_kwh / per_period.cer_cooling_kwh end
            as cer,
        per_period.water_intake_m3,
        per_period.water_potable_m3,
        cast(per_period.wue_days as integer) as wue_days,
        case when per_period.wue_it_kwh > 0 then 1000.0 * per_period.wue_water_m3 / per_period.wue_it_kwh end
            as wue_l_per_kwh,
        coalesce(ledger.has_ledger, false) as has_ledger,
        case when per_period.period_type = 'year' then ledger.eres_goo_kwh end as eres_goo_kwh,
        case when per_period.period_type = 'year' then ledger.eres_ppa_kwh end as eres_ppa_kwh,
        case when per_period.period_type = 'year' then ledger.eres_os_kwh end as eres_os_kwh,
        case when per_period.period_type = 'year' then ledger.eres_tot_kwh end as eres_tot_kwh,
        ledger.ref,
        case
            when per_period.hours_in_operation > 0 then per_period.design_it_power_kwh / per_period.hours_in_operation
        end as design_it_power_kw,
        case
            when per_period.hours_in_operation > 0 then per_period.floor_area_m2_hours / per_period.hours_in_operation
        end as floor_area_m2,
        case
            when per_period.building_area_hours > 0 then per_period.building_area_m2_hours / per_period.building_area_hours
        end as building_area_m2,
        per_period.dc_kwh * factors.grid_g_co2_per_kwh / 1000.0 as co2e_location_kg,
        per_period.dc_kwh * (1 - least(1.0, coalesce(ledger.ref, 0.0))) * factors.residual_g_co2_per_kwh / 1000.0
            as co2e_market_kg,
        factors.grid_g_co2_per_kwh,
        factors.grid_factor_year,
        factors.is_grid_provisional,
        factors.residual_g_co2_per_kwh,
        factors.residual_factor_year,
        factors.is_residual_provisional

    from per_period
    left join ledger
        on year(per_period.period_start) = ledger.year
    left join factors
        on year(per_period.period_start) = factors.year
    where per_period.days_with_meter_data > 0

)

select * from final
