-- Renewable energy per calendar year from the certificate ledger, against the year's E_DC:
-- the renewable energy factor REF = ERES-TOT / E_DC (EN 50600-4-3; Delegated Regulation (EU)
-- 2024/1364 Annex II 1(o) to (r), Annex III (d)). ERES-GOO counts the guarantees of origin the
-- ledger lists as cancelled, ERES-PPA the power purchase agreements, ERES-OS the energy the
-- ledger's on-site meters generated in the year (local days). Without a ledger for a year its
-- ERES figures and REF are unknown (null), never zero. E_DC of the year is the sum of the daily
-- E_DC (int_energy_figures_daily).

with

items as (

    select * from {{ ref('stg_certificates__items') }}

),

meter_daily as (

    select * from {{ ref('int_meter_energy_daily') }}

),

figures as (

    select * from {{ ref('int_energy_figures_daily') }}

),

ledger as (

    select
        year,
        count(*) as items,
        coalesce(sum(kwh) filter (where kind = 'goo' and cancelled_on is not null), 0) as eres_goo_kwh,
        coalesce(sum(kwh) filter (where kind = 'goo' and cancelled_on is null), 0) as goo_not_cancelled_kwh,
        coalesce(sum(kwh) filter (where kind = 'ppa'), 0) as eres_ppa_kwh
    from items
    group by year

),

onsite as (

    select
        year(meter_daily.day) as year,
        sum(meter_daily.kwh) as eres_os_kwh
    from meter_daily
    inner join (select distinct year, meter_id from items where kind = 'onsite') as onsite_items
        on meter_daily.meter_id = onsite_items.meter_id
       and year(meter_daily.day) = onsite_items.year
    group by year(meter_daily.day)

),

energy as (

    select
        year(day) as year,
        sum(dc_kwh) as dc_kwh
    from figures
    group by year(day)

),

years as (

    select year from ledger
    union
    select year from energy

),

final as (

    select
        cast(years.year as integer) as year,
        ledger.year is not null as has_ledger,
        cast(coalesce(ledger.items, 0) as integer) as ledger_items,
        ledger.eres_goo_kwh,
        ledger.goo_not_cancelled_kwh,
        ledger.eres_ppa_kwh,
        case when ledger.year is not null then coalesce(onsite.eres_os_kwh, 0) end as eres_os_kwh,
        case
            when ledger.year is not null
                then ledger.eres_goo_kwh + ledger.eres_ppa_kwh + coalesce(onsite.eres_os_kwh, 0)
        end as eres_tot_kwh,
        energy.dc_kwh,
        case
            when ledger.year is not null and energy.dc_kwh > 0
                then (ledger.eres_goo_kwh + ledger.eres_ppa_kwh + coalesce(onsite.eres_os_kwh, 0)) / energy.dc_kwh
        end as ref
    from years
    left join ledger
        on years.year = ledger.year
    left join onsite
        on years.year = onsite.year
    left join energy
        on years.year = energy.year

)

select * from final
