-- The facility's energy figures per local day by the EN 50600-4-x definitions, one row per day
-- with any facility meter data (kWh, m3 or degC).
--
-- Each kWh kind adds up its top-level meters (a meter whose parent is of the same kind is a
-- sub-meter and not added again). E_DC = grid intake + on-site generation + backup generators
-- - grid export (EN 50600-4-2; Delegated Regulation (EU) 2024/1364 Annex II 1(d): the backup
-- generators' part, E_DC-BG, is part of E_DC and reported apart). A kind is measured on a day
-- when every top-level meter of the kind (in the inventory) covers the whole day without a gap:
-- an interval between two readings longer than var('meter_gap_intervals') times the meter's
-- typical interval (the median of its intervals) is a gap, whose energy still counts in the
-- totals (the register measured it) but whose days are not measured. E_DC is
-- measured when every kind it is made of that has meters is measured; a PUE day is a day with
-- E_DC and E_IT both measured. Temperatures of heat delivered for reuse (and released) are the
-- day's mean over the temperature meters of the heat meters of that kind. Water: volumes of the
-- water_intake meters, and of those marked potable.

with

meter_daily as (

    select * from {{ ref('int_meter_energy_daily') }}

),

deltas as (

    select * from {{ ref('int_meter_deltas') }}

),

meters as (

    select * from {{ ref('stg_inventory__meters') }}

),

values_daily as (

    select * from {{ ref('int_meter_values_daily') }}

),

top_meters_per_kind as (

    select
        meters.kind,
        count(*) as meters
    from meters
    left join meters as parents
        on meters.parent_meter_id = parents.meter_id
    where meters.unit = 'kWh'
      and (parents.meter_id is null or parents.kind <> meters.kind)
    group by meters.kind

),

-- reading intervals longer than var('meter_gap_intervals') typical intervals of their meter,
-- spread over the local days they touch
intervals as (

    select
        meter_id,
        previous_reading_at,
        reading_at,
        {{ seconds_between('previous_reading_at', 'reading_at') }} as interval_s,
        median({{ seconds_between('previous_reading_at', 'reading_at') }}) over (partition by meter_id)
            as typical_interval_s
    from deltas

),

gaps as (

    select meter_id, previous_reading_at, reading_at
    from intervals
    where interval_s > {{ var('meter_gap_intervals') }} * typical_interval_s

),

gap_days as (

    select
        gaps.meter_id,
        cast(spine.day_ts as date) as day,
        sum({{ seconds_between(
            'greatest(gaps.previous_reading_at, ' ~ local_day_start('cast(spine.day_ts as date)') ~ ')',
            'least(gaps.reading_at, ' ~ local_day_end('cast(spine.day_ts as date)') ~ ')'
        ) }}) as gap_s
    from gaps,
        generate_series(
            cast({{ local_date('gaps.previous_reading_at') }} as timestamp),
            cast({{ local_date("gaps.reading_at - interval '1 microsecond'") }} as timestamp),
            interval '1 day'
        ) as spine(day_ts)
    group by gaps.meter_id, cast(spine.day_ts as date)

),

meter_days as (

    select
        meter_daily.*,
        coalesce(gap_days.gap_s, 0) as gap_s,
        meter_daily.covered_s - coalesce(gap_days.gap_s, 0) >= 0.9999 * meter_daily.day_s as is_measured
    from meter_daily
    left join gap_days
        on meter_daily.meter_id = gap_days.meter_id
       and meter_daily.day = gap_days.day
    where meter_daily.is_top_level

),

kinds as (

    select
        meter_days.day,
        meter_days.kind,
        sum(meter_days.kwh) as kwh,
        -- a kind covers the day only if each of its top-level meters does
        case
            when count(*) < coalesce(max(top_meters_per_kind.meters), 1) then 0
            else min(meter_days.coverage)
        end as coverage,
        count(*) = coalesce(max(top_meters_per_kind.meters), 1) and bool_and(meter_days.is_measured)
            as is_measured,
        sum(meter_days.resets) as resets,
        sum(meter_days.rollovers) as rollovers
    from meter_days
    left join top_meters_per_kind
        on meter_days.kind = top_meters_per_kind.kind
    group by meter_days.day, meter_days.kind

),

kind_totals as (

    select
        day,
        sum(kwh) filter (where kind = 'grid_intake') as grid_intake_kwh,
        sum(kwh) filter (where kind = 'grid_export') as grid_export_kwh,
        sum(kwh) filter (where kind = 'onsite_generation') as onsite_generation_kwh,
        sum(kwh) filter (where kind = 'backup_generator') as backup_generator_kwh,
        sum(kwh) filter (where kind = 'it') as it_kwh,
        sum(kwh) filter (where kind = 'cooling') as cooling_kwh,
        sum(kwh) filter (where kind = 'heat_removed') as heat_removed_kwh,
        sum(kwh) filter (where kind = 'heat_reuse') as heat_reuse_kwh,
        sum(kwh) filter (where kind = 'heat_released') as heat_released_kwh,
        sum(kwh) filter (
            where kind not in (
                'grid_intake', 'grid_export', 'onsite_generation', 'backup_generator', 'it', 'cooling',
                'heat_removed', 'heat_reuse', 'heat_released', 'water_intake', 'temperature'
            )
        ) as other_kwh,
        max(coverage) filter (where kind = 'grid_intake') as grid_coverage,
        max(coverage) filter (where kind = 'it') as it_coverage,
        coalesce(bool_or(is_measured) filter (where kind = 'it'), false) as is_it_measured,
        sum(resets) as meter_resets,
        sum(rollovers) as meter_rollovers
    from kinds
    group by day

),

temperatures as (

    select
        values_daily.day,
        avg(values_daily.mean_c) filter (where media.kind = 'heat_reuse') as heat_reuse_temp_c,
        avg(values_daily.mean_c) filter (where media.kind = 'heat_released') as heat_released_temp_c
    from values_daily
    inner join meters as media
        on values_daily.of_meter_id = media.meter_id
    where values_daily.unit = 'degC'
    group by values_daily.day

),

water as (

    select
        day,
        sum(volume_m3) filter (where kind = 'water_intake') as water_intake_m3,
        sum(volume_m3) filter (where kind = 'water_intake' and is_potable) as water_potable_m3
    from values_daily
    where unit = 'm3'
    group by day

),

days as (

    select day from kind_totals
    union
    select day from temperatures
    union
    select day from water

),

-- E_DC is measured when each of its kinds that has meters is measured, grid intake included
dc_kinds as (

    select kind
    from top_meters_per_kind
    where kind in ('grid_intake', 'onsite_generation', 'backup_generator', 'grid_export')

),

dc_measured as (

    select
        days.day,
        bool_and(coalesce(kinds.is_measured, false)) and bool_or(dc_kinds.kind = 'grid_intake')
            as is_dc_measured
    from days
    cross join dc_kinds
    left join kinds
        on days.day = kinds.day
       and dc_kinds.kind = kinds.kind
    group by days.day

),

it_category as (

    select min(meters.pue_category) as pue_category
    from meters
    left join meters as parents
        on meters.parent_meter_id = parents.meter_id
    where meters.kind = 'it'
      and (parents.meter_id is null or parents.kind <> meters.kind)

),

final as (

    select
        days.day,
        kind_totals.grid_intake_kwh,
        kind_totals.grid_export_kwh,
        kind_totals.onsite_generation_kwh,
        kind_totals.backup_generator_kwh,
        case
            when kind_totals.grid_intake_kwh is not null
                then kind_totals.grid_intake_kwh
                    + coalesce(kind_totals.onsite_generation_kwh, 0)
                    + coalesce(kind_totals.backup_generator_kwh, 0)
                    - coalesce(kind_totals.grid_export_kwh, 0)
        end as dc_kwh,
        kind_totals.it_kwh,
        kind_totals.cooling_kwh,
        kind_totals.heat_removed_kwh,
        kind_totals.heat_reuse_kwh,
        kind_totals.heat_released_kwh,
        kind_totals.other_kwh,
        coalesce(kind_totals.grid_coverage, 0) as grid_coverage,
        coalesce(kind_totals.it_coverage, 0) as it_coverage,
        coalesce(dc_measured.is_dc_measured, false) as is_dc_measured,
        coalesce(kind_totals.is_it_measured, false) as is_it_measured,
        coalesce(dc_measured.is_dc_measured, false)
            and coalesce(kind_totals.is_it_measured, false)
            and coalesce(kind_totals.it_kwh, 0) > 0 as is_pue_day,
        temperatures.heat_reuse_temp_c,
        temperatures.heat_released_temp_c,
        water.water_intake_m3,
        water.water_potable_m3,
        coalesce(kind_totals.meter_resets, 0) as meter_resets,
        coalesce(kind_totals.meter_rollovers, 0) as meter_rollovers,
        it_category.pue_category
    from days
    cross join it_category
    left join kind_totals
        on days.day = kind_totals.day
    left join dc_measured
        on days.day = dc_measured.day
    left join temperatures
        on days.day = temperatures.day
    left join water
        on days.day = water.day

)

select * from final
