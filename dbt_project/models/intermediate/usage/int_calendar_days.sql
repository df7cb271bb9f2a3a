-- Local calendar days covering every whole year that has usage or energy data, with their
-- length in hours (23 or 25 on the daylight-saving days) and their month, quarter and year
-- labels. Reporting periods and capacity (GPUs x hours) are cut from it.

with

usage_days as (

    select day from {{ ref('int_job_usage_daily') }}

),

energy_days as (

    select day from {{ ref('fct_energy_daily') }}

),

bounds as (

    select
        min(day) as first_day,
        max(day) as last_day
    from (
        select day from usage_days
        union all
        select day from energy_days
    ) as all_days

),

spine as (

    select cast(spine_days.day_ts as date) as day
    from bounds,
        generate_series(
            cast(make_date(year(bounds.first_day), 1, 1) as timestamp),
            cast(make_date(year(bounds.last_day), 12, 31) as timestamp),
            interval '1 day'
        ) as spine_days(day_ts)
    where bounds.first_day is not null

),

final as (

    select
        day,
        {{ local_day_start('day') }} as day_start_at,
        {{ local_day_end('day') }} as day_end_at,
        {{ seconds_between(local_day_start('day'), local_day_end('day')) }} / 3600.0 as hours,
        cast(date_trunc('month', day) as date) as month,
        strftime(day, '%Y-%m') as month_label,
        cast(year(day) as varchar) || '-Q' || cast(quarter(day) as varchar) as quarter_label,
        cast(year(day) as varchar) as year_label,
        year(day) as year

    from spine

)

select * from final
