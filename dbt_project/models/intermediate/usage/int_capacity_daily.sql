-- Installed capacity per local day, time-weighted: the nodes of the inventory delivery in
-- force that day (marts.dim_node), P_DIT and floor area of the facility, and whether the
-- centre was in operation. A day is in operation from the facility's commissioning day (else
-- the first day with usage or energy data) to the last day with data; capacity counts only
-- days in operation, so a period the centre ran for 14 days is measured against 14 days.

with

calendar as (

    select * from {{ ref('int_calendar_days') }}

),

nodes as (

    select * from {{ ref('dim_node') }}

),

facility as (

    select * from {{ ref('stg_inventory__facility') }}

),

usage_days as (

    select distinct day from {{ ref('int_job_usage_daily') }}

),

energy_days as (

    select day from {{ ref('fct_energy_daily') }}
    where it_kwh is not null or grid_kwh is not null or node_kwh > 0

),

data_days as (

    select day from usage_days
    union
    select day from energy_days

),

bounds as (

    select
        coalesce(
            (select min(commissioned_on) from facility),
            min(day)
        ) as operation_start,
        min(day) as first_data_day,
        max(day) as last_data_day
    from data_days

),

installed as (

    select
        calendar.day,
        coalesce(sum(nodes.gpus), 0) as installed_gpus,
        coalesce(sum(nodes.cpus), 0) as installed_cpus,
        count(nodes.node) filter (where nodes.gpus > 0) as gpu_nodes,
        count(nodes.node) filter (where coalesce(nodes.gpus, 0) = 0) as cpu_nodes
    from calendar
    left join nodes
        on calendar.day >= nodes.valid_from
       and calendar.day <= coalesce(nodes.valid_to, date '9999-12-31')
    group by calendar.day

),

final as (

    select
        calendar.day,
        calendar.hours,
        cast(installed.installed_gpus as integer) as installed_gpus,
        cast(installed.installed_cpus as integer) as installed_cpus,
        cast(installed.gpu_nodes as integer) as gpu_nodes,
        cast(installed.cpu_nodes as integer) as cpu_nodes,
        coalesce((select max(design_it_power_kw) from facility), {{ var('design_it_power_kw') }})
            as design_it_power_kw,
        coalesce((select max(floor_area_m2) from facility), {{ var('floor_area_m2') }})
            as floor_area_m2,
        data_days.day is not null as has_data,
        coalesce(
            calendar.day >= bounds.operation_start and calendar.day <= bounds.last_data_day,
            false
        ) as is_in_operation,
        case
            when calendar.day >= bounds.operation_start and calendar.day <= bounds.last_data_day
                then calendar.hours
            else 0
        end as hours_in_operation,
        case
            when calendar.day >= bounds.operation_start and calendar.day <= bounds.last_data_day
                then installed.installed_gpus * calendar.hours
            else 0
        end as gpu_capacity_hours

    from calendar
    cross join bounds
    inner join installed
        on calendar.day = installed.day
    left join data_days
        on calendar.day = data_days.day

)

select * from final
