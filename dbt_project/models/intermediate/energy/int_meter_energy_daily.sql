-- Meter energy per local day: each delta is spread over the local days by the overlap of its
-- interval [previous_reading_at, reading_at) with the day. covered_s tells how much of the day
-- the meter's readings span. is_top_level marks the meters whose parent is not of the same
-- kind; only those are added up per kind, so that sub-meters are not counted twice.

with

deltas as (

    select * from {{ ref('int_meter_deltas') }}

),

meters as (

    select * from {{ ref('stg_inventory__meters') }}

),

delta_days as (

    select
        deltas.*,
        cast(spine.day_ts as date) as day
    from deltas,
        generate_series(
            cast({{ local_date('previous_reading_at') }} as timestamp),
            cast({{ local_date("reading_at - interval '1 microsecond'") }} as timestamp),
            interval '1 day'
        ) as spine(day_ts)

),

day_overlaps as (

    select
        meter_id,
        day,
        delta_kwh,
        delta_kind,
        {{ seconds_between('previous_reading_at', 'reading_at') }} as interval_s,
        {{ seconds_between(
            'greatest(previous_reading_at, ' ~ local_day_start('day') ~ ')',
            'least(reading_at, ' ~ local_day_end('day') ~ ')'
        ) }} as overlap_s,
        {{ seconds_between(local_day_start('day'), local_day_end('day')) }} as day_s
    from delta_days

),

daily as (

    select
        meter_id,
        day,
        sum(delta_kwh * overlap_s / interval_s) as kwh,
        sum(overlap_s) as covered_s,
        max(day_s) as day_s,
        count(*) filter (where delta_kind = 'reset') as resets,
        count(*) filter (where delta_kind = 'rollover') as rollovers
    from day_overlaps
    group by meter_id, day

),

final as (

    select
        daily.meter_id || '|' || cast(daily.day as varchar) as meter_day_key,
        daily.meter_id,
        daily.day,
        coalesce(meters.kind, 'other') as kind,
        meters.meter_id is not null as is_in_inventory,
        parents.meter_id is null or parents.kind <> meters.kind as is_top_level,
        daily.kwh,
        daily.covered_s,
        daily.day_s,
        daily.covered_s / daily.day_s as coverage,
        daily.resets,
        daily.rollovers
    from daily
    left join meters on daily.meter_id = meters.meter_id
    left join meters as parents on meters.parent_meter_id = parents.meter_id

)

select * from final
