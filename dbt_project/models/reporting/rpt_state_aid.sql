-- Economic use of the centre by the state-aid rule (DESIGN "State aid"): GPU-hours of
-- contracts with activity 'economic' (never decided by price), summed over the calendar year
-- up to each period's end, against the year's installed GPU capacity over its days in
-- operation up to then (time-weighted) and against the allowance, var('economic_use_allowance_share')
-- of that capacity. Status 'warning' from var('warn_share') of the allowance, 'exceeded' above it.

{%- set allowance = var('economic_use_allowance_share') %}
{%- set warn_share = var('warn_share') %}

with

job_days as (

    select * from {{ ref('int_job_days_accounted') }}

),

capacity as (

    select * from {{ ref('int_capacity_daily') }}

),

coverage as (

    select * from {{ ref('rpt_period_coverage') }}

),

economic_daily as (

    select day, sum(gpu_hours) as gpu_hours
    from job_days
    where is_economic_use
    group by day

),

year_to_date as (

    select
        coverage.period_type,
        coverage.period,
        coverage.period_start,
        coverage.period_end,
        make_date(year(coverage.period_end), 1, 1) as year_start,
        (select coalesce(sum(economic_daily.gpu_hours), 0) from economic_daily
            where economic_daily.day between coverage.period_start and coverage.period_end)
            as economic_use_gpu_hours,
        (select coalesce(sum(economic_daily.gpu_hours), 0) from economic_daily
            where economic_daily.day between make_date(year(coverage.period_end), 1, 1) and coverage.period_end)
            as economic_use_gpu_hours_ytd,
        (select coalesce(sum(capacity.gpu_capacity_hours), 0) from capacity
            where capacity.day between make_date(year(coverage.period_end), 1, 1) and coverage.period_end)
            as capacity_gpu_hours_ytd
    from coverage

),

final as (

    select
        period_type || '|' || period as period_key,
        period_type,
        period,
        period_start,
        period_end,
        year_start,
        economic_use_gpu_hours,
        economic_use_gpu_hours_ytd,
        capacity_gpu_hours_ytd,
        cast({{ allowance }} as double) as allowance_share,
        {{ allowance }} * capacity_gpu_hours_ytd as allowance_gpu_hours_ytd,
        case when capacity_gpu_hours_ytd > 0
            then 100.0 * economic_use_gpu_hours_ytd / capacity_gpu_hours_ytd end as share_of_capacity_pct,
        case when capacity_gpu_hours_ytd > 0
            then 100.0 * economic_use_gpu_hours_ytd / ({{ allowance }} * capacity_gpu_hours_ytd) end
            as share_of_allowance_pct,
        case
            when capacity_gpu_hours_ytd <= 0 then 'unknown'
            when economic_use_gpu_hours_ytd > {{ allowance }} * capacity_gpu_hours_ytd then 'exceeded'
            when economic_use_gpu_hours_ytd >= {{ warn_share }} * {{ allowance }} * capacity_gpu_hours_ytd then 'warning'
            else 'ok'
        end as status

    from year_to_date

)

select * from final
