-- De-minimis check per company partner and local month: subsidies (compute value above the
-- price paid) summed over the rolling three years ending with the month (36 months) against
-- the EU de-minimis ceiling (var deminimis_ceiling_eur, EUR 300,000); flagged from
-- var deminimis_flag_share (80 %) of it.

{%- set ceiling = var('deminimis_ceiling_eur', 300000) %}
{%- set flag_share = var('deminimis_flag_share', 0.8) %}

with

job_days as (

    select * from {{ ref('int_job_days_accounted') }}

),

calendar as (

    select * from {{ ref('int_calendar_days') }}

),

months as (

    select distinct month, month_label from calendar

),

monthly_subsidy as (

    select
        partner_id,
        cast(date_trunc('month', day) as date) as month,
        sum(subsidy_eur) as subsidy_eur
    from job_days
    where is_company and partner_id is not null
    group by partner_id, cast(date_trunc('month', day) as date)

),

partners as (

    select
        partner_id,
        min(month) as first_month
    from monthly_subsidy
    group by partner_id

),

partner_months as (

    select
        partners.partner_id,
        months.month,
        months.month_label,
        coalesce(monthly_subsidy.subsidy_eur, 0) as subsidy_eur
    from partners
    inner join months
        on months.month >= partners.first_month
    left join monthly_subsidy
        on partners.partner_id = monthly_subsidy.partner_id
       and months.month = monthly_subsidy.month

),

rolling as (

    select
        *,
        sum(subsidy_eur) over (
            partition by partner_id
            order by month
            range between interval '35 months' preceding and current row
        ) as rolling_3y_subsidy_eur
    from partner_months

),

final as (

    select
        partner_id || '|' || month_label as partner_month_key,
        partner_id,
        month,
        month_label,
        subsidy_eur,
        rolling_3y_subsidy_eur,
        cast({{ ceiling }} as double) as ceiling_eur,
        100.0 * rolling_3y_subsidy_eur / {{ ceiling }} as ceiling_share_pct,
        rolling_3y_subsidy_eur >= {{ flag_share }} * {{ ceiling }} as is_flagged,
        rolling_3y_subsidy_eur > {{ ceiling }} as is_exceeded

    from rolling

)

select * from final
