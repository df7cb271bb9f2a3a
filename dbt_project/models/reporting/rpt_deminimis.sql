-- De-minimis position of each single undertaking at the end of every local month, quarter,
-- half-year and year (int_calendar_periods), from the period holding its first grant on: the aid
-- granted in the rolling window ending with the period (var deminimis_window_years, exact
-- days) plus the aid it declared from elsewhere, against the ceiling.

{%- set ceiling = var('deminimis_ceiling_eur') %}
{%- set warn_share = var('warn_share') %}
{%- set window_years = var('deminimis_window_years') %}

with

grants as (

    select * from {{ ref('int_deminimis_grants') }}

),

day_periods as (

    select * from {{ ref('int_calendar_periods') }}

),

partners as (

    select * from {{ ref('dim_partner') }}

),

periods as (

    select distinct
        period_type,
        period,
        period_end
    from day_periods

),

-- name and confidentiality over every member, so that an undertaking reads the same in all
-- periods and a confidential member keeps its whole group confidential
undertakings as (

    select
        grants.undertaking_id,
        min(grants.granted_on) as first_granted_on,
        max(grants.other_deminimis_eur) as other_deminimis_eur,
        count(distinct grants.partner_id) as n_partners,
        max(partners.partner_name) as partner_name,
        coalesce(bool_or(partners.is_confidential), false) as is_confidential
    from grants
    left join partners
        on grants.partner_id = partners.partner_id
    group by grants.undertaking_id

),

undertaking_periods as (

    select
        undertakings.*,
        periods.period_type,
        periods.period,
        periods.period_end,
        cast(periods.period_end - interval ({{ window_years }}) year + interval 1 day as date) as window_start
    from undertakings
    inner join periods
        on periods.period_end >= undertakings.first_granted_on

),

-- grants up to the period's end: their partners and contracts are the undertaking's members
-- so far; those from window_start on count against the ceiling
positions as (

    select
        undertaking_periods.undertaking_id,
        undertaking_periods.period_type,
        undertaking_periods.period,
        list_sort(list_distinct(list(grants.partner_id))) as partner_ids,
        list_sort(list_distinct(list(grants.contract_id))) as contract_ids,
        coalesce(
            sum(grants.aid_eur) filter (where grants.granted_on >= undertaking_periods.window_start),
            0
        ) as aid_in_window_eur
    from undertaking_periods
    inner join grants
        on grants.undertaking_id = undertaking_periods.undertaking_id
       and grants.granted_on <= undertaking_periods.period_end
    group by
        undertaking_periods.undertaking_id,
        undertaking_periods.period_type,
        undertaking_periods.period

),

totals as (

    select
        undertaking_periods.*,
        positions.partner_ids,
        positions.contract_ids,
        positions.aid_in_window_eur,
        positions.aid_in_window_eur + undertaking_periods.other_deminimis_eur as total_eur
    from undertaking_periods
    inner join positions
        on undertaking_periods.undertaking_id = positions.undertaking_id
       and undertaking_periods.period_type = positions.period_type
       and undertaking_periods.period = positions.period

),

final as (

    select
        undertaking_id || '|' || period_type || '|' || period as deminimis_key,
        period_type,
        period,
        period_end,
        window_start,
        undertaking_id,
        partner_ids,
        contract_ids,
        is_confidential,
        case
            when n_partners = 1 then coalesce(partner_name, undertaking_id)
            else undertaking_id
        end as undertaking_name,
        aid_in_window_eur,
        other_deminimis_eur,
        total_eur,
        cast({{ ceiling }} as double) as ceiling_eur,
        100.0 * total_eur / {{ ceiling }} as share_pct,
        case
            when total_eur > {{ ceiling }} then 'exceeded'
            when total_eur >= {{ warn_share }} * {{ ceiling }} then 'warning'
            else 'ok'
        end as status

    from totals

)

select * from final
