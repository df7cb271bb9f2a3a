-- Facility meter energy per report period: the sums of fct_energy_daily over the days with a
-- meter value, and the number of such days.

with

energy_daily as (

    select * from {{ ref('fct_energy_daily') }}

),

periods as (

    select * from {{ ref('int_calendar_periods') }}

),

final as (

    select
        periods.period_type || '|' || periods.period as period_key,
        periods.period_type,
        periods.period,
        cast(count(*) filter (where energy_daily.grid_kwh is not null or energy_daily.it_kwh is not null) as integer)
            as days_with_meter_data,
        sum(energy_daily.grid_kwh) as grid_kwh,
        sum(energy_daily.it_kwh) as it_kwh,
        sum(energy_daily.cooling_kwh) as cooling_kwh,
        sum(energy_daily.heat_reuse_kwh) as heat_reuse_kwh,
        sum(energy_daily.renewable_kwh) as renewable_kwh,
        sum(energy_daily.node_kwh) as node_kwh
    from energy_daily
    inner join periods
        on energy_daily.day = periods.day
    group by periods.period_type, periods.period

)

select * from final
