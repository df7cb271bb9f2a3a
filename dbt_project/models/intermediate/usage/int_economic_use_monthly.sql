-- Economic use per local month: GPU-hours sold to companies at (or above) list price, summed
-- over the year to date against the share of annual capacity a publicly funded research
-- infrastructure may use for ancillary economic activity (var economic_use_share, 20 % of
-- installed GPUs x hours of the year). Flagged before the limit is reached: from
-- var economic_use_flag_share (80 %) of the limit pro rata to the end of the month, or of the
-- whole year's limit.

{%- set limit_share = var('economic_use_share', 0.2) %}
{%- set flag_share = var('economic_use_flag_share', 0.8) %}

with

job_days as (

    select * from {{ ref('int_job_days_accounted') }}

),

calendar as (

    select * from {{ ref('int_calendar_days') }}

),

nodes as (

    select * from {{ ref('stg_inventory__nodes') }}

),

installed as (

    select cast(coalesce(sum(gpus), 0) as bigint) as installed_gpus
    from nodes
    where is_in_latest_delivery

),

months as (

    select
        year,
        month,
        month_label,
        sum(hours) as month_hours
    from calendar
    group by year, month, month_label

),

years as (

    select year, sum(hours) as year_hours
    from calendar
    group by year

),

economic as (

    select
        cast(date_trunc('month', day) as date) as month,
        sum(gpu_hours) as economic_use_gpu_hours
    from job_days
    where is_economic_use
    group by cast(date_trunc('month', day) as date)

),

monthly as (

    select
        months.year,
        months.month,
        months.month_label,
        months.month_hours,
        years.year_hours,
        installed.installed_gpus,
        coalesce(economic.economic_use_gpu_hours, 0) as economic_use_gpu_hours,
        sum(months.month_hours) over year_to_date as hours_to_date,
        sum(coalesce(economic.economic_use_gpu_hours, 0)) over year_to_date as economic_use_gpu_hours_ytd
    from months
    inner join years
        on months.year = years.year
    cross join installed
    left join economic
        on months.month = economic.month
    window year_to_date as (
        partition by months.year order by months.month
        rows between unbounded preceding and current row
    )

),

limits as (

    select
        *,
        installed_gpus * year_hours as annual_capacity_gpu_hours,
        {{ limit_share }} * installed_gpus * year_hours as annual_limit_gpu_hours,
        {{ limit_share }} * installed_gpus * hours_to_date as limit_to_date_gpu_hours
    from monthly

),

final as (

    select
        month,
        month_label,
        year,
        installed_gpus,
        month_hours,
        year_hours,
        hours_to_date,
        economic_use_gpu_hours,
        economic_use_gpu_hours_ytd,
        annual_capacity_gpu_hours,
        annual_limit_gpu_hours,
        limit_to_date_gpu_hours,
        case
            when annual_limit_gpu_hours > 0
                then 100.0 * economic_use_gpu_hours_ytd / annual_limit_gpu_hours
        end as annual_limit_share_pct,
        case
            when limit_to_date_gpu_hours > 0
                then 100.0 * economic_use_gpu_hours_ytd / limit_to_date_gpu_hours
        end as limit_to_date_share_pct,
        economic_use_gpu_hours_ytd > 0
            and (
                economic_use_gpu_hours_ytd >= {{ flag_share }} * limit_to_date_gpu_hours
                or economic_use_gpu_hours_ytd >= {{ flag_share }} * annual_limit_gpu_hours
            ) as is_flagged,
        economic_use_gpu_hours_ytd > annual_limit_gpu_hours as is_exceeded

    from limits

)

select * from final
