-- Each local day with the month, quarter, half-year and year it belongs to: one row per day
-- and period, with the period's first and last day. Every report period is cut from here.

with

calendar as (

    select * from {{ ref('int_calendar_days') }}

),

day_periods as (

    select day, hours, 'month' as period_type, month_label as period from calendar
    union all
    select day, hours, 'quarter', quarter_label from calendar
    union all
    select day, hours, 'half',
        year_label || '-H' || case when month(day) <= 6 then '1' else '2' end
    from calendar
    union all
    select day, hours, 'year', year_label from calendar

),

final as (

    select
        period_type || '|' || period || '|' || strftime(day, '%Y-%m-%d') as day_period_key,
        day,
        hours,
        period_type,
        period,
        min(day) over (partition by period_type, period) as period_start,
        max(day) over (partition by period_type, period) as period_end

    from day_periods

)

select * from final
