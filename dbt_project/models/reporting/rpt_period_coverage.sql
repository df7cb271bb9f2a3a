-- What each report period actually covers: the days with data, the days in operation, the
-- capacity over them, and whether the period is partial. Periods are those overlapping the
-- days with data (as in fct_impact_kpis).

with

periods as (

    select * from {{ ref('int_calendar_periods') }}

),

capacity as (

    select * from {{ ref('int_capacity_daily') }}

),

per_period as (

    select
        periods.period_type,
        periods.period,
        min(periods.period_start) as period_start,
        min(periods.period_end) as period_end,
        count(*) as days_in_period,
        sum(periods.hours) as period_hours,
        min(periods.day) filter (where capacity.has_data) as first_data_day,
        max(periods.day) filter (where capacity.has_data) as last_data_day,
        count(*) filter (where capacity.has_data) as days_with_data,
        count(*) filter (where capacity.is_in_operation) as days_in_operation,
        min(periods.day) filter (where capacity.is_in_operation) as first_operation_day,
        sum(capacity.hours_in_operation) as hours_in_operation,
        sum(capacity.gpu_capacity_hours) as gpu_capacity_hours,
        arg_max(capacity.installed_gpus, periods.day) filter (where capacity.is_in_operation)
            as installed_gpus,
        arg_max(capacity.gpu_nodes, periods.day) filter (where capacity.is_in_operation)
            as gpu_nodes,
        arg_max(capacity.cpu_nodes, periods.day) filter (where capacity.is_in_operation)
            as cpu_nodes,
        max(capacity.design_it_power_kw) as design_it_power_kw,
        max(capacity.floor_area_m2) as floor_area_m2
    from periods
    inner join capacity
        on periods.day = capacity.day
    group by periods.period_type, periods.period

),

operation_start as (

    select min(day) as first_operation_day
    from capacity
    where is_in_operation

),

final as (

    select
        per_period.period_type || '|' || per_period.period as period_key,
        per_period.period_type,
        per_period.period,
        per_period.period_start,
        per_period.period_end,
        cast(per_period.days_in_period as integer) as days_in_period,
        per_period.period_hours,
        per_period.first_data_day,
        per_period.last_data_day,
        cast(per_period.days_with_data as integer) as days_with_data,
        cast(per_period.days_in_operation as integer) as days_in_operation,
        per_period.days_with_data < per_period.days_in_period as is_partial,
        operation_start.first_operation_day between per_period.period_start and per_period.period_end
            as operation_started_in_period,
        operation_start.first_operation_day as operation_start_day,
        per_period.hours_in_operation,
        per_period.gpu_capacity_hours,
        case
            when per_period.hours_in_operation > 0
                then per_period.gpu_capacity_hours / per_period.hours_in_operation
        end as avg_installed_gpus,
        cast(per_period.installed_gpus as integer) as installed_gpus,
        cast(per_period.gpu_nodes as integer) as gpu_nodes,
        cast(per_period.cpu_nodes as integer) as cpu_nodes,
        per_period.design_it_power_kw,
        per_period.floor_area_m2

    from per_period
    cross join operation_start
    where per_period.days_with_data > 0

)

select * from final
