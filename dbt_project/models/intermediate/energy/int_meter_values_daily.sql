-- Water volumes and temperatures per meter and local day, from the meters read in m3 or degC.
--
-- Water (unit m3): cumulative registers. A reading delivered more than once for the same meter
-- and instant counts once (latest delivery wins). The volume between consecutive readings is
-- spread over the local days by the overlap of its interval with the day, as
-- int_meter_energy_daily does for kWh; a register that drops has been reset and counts from
-- zero (volume = the new reading). Temperatures (unit degC): the mean of the readings taken in
-- the local day (meters read at a fixed interval, so the mean is the time-weighted one).

with

readings as (

    select * from {{ ref('stg_meters__values') }}

),

meters as (

    select * from {{ ref('stg_inventory__meters') }}

),

latest as (

    select readings.meter_id, readings.reading_at, readings.value, meters.unit
    from readings
    inner join meters
        on readings.meter_id = meters.meter_id
    where meters.unit in ('m3', 'degC')
    qualify row_number() over (
        partition by readings.meter_id, readings.reading_at
        order by readings.ingest_id desc, readings.line_no desc
    ) = 1

),

water_sequenced as (

    select
        meter_id,
        reading_at,
        value,
        lag(reading_at) over by_time as previous_reading_at,
        lag(value) over by_time as previous_value
    from latest
    where unit = 'm3'
    window by_time as (partition by meter_id order by reading_at)

),

water_deltas as (

    select
        meter_id,
        previous_reading_at,
        reading_at,
        case
            when value >= previous_value then value - previous_value
            else greatest(value, 0)
        end as delta_m3
    from water_sequenced
    where previous_reading_at is not null

),

water_delta_days as (

    select
        water_deltas.*,
        cast(spine.day_ts as date) as day
    from water_deltas,
        generate_series(
            cast({{ local_date('previous_reading_at') }} as timestamp),
            cast({{ local_date("reading_at - interval '1 microsecond'") }} as timestamp),
            interval '1 day'
        ) as spine(day_ts)

),

water_daily as (

    select
        meter_id,
        day,
        sum(
            delta_m3
            * {{ seconds_between(
                'greatest(previous_reading_at, ' ~ local_day_start('day') ~ ')',
                'least(reading_at, ' ~ local_day_end('day') ~ ')'
            ) }}
            / {{ seconds_between('previous_reading_at', 'reading_at') }}
        ) as volume_m3,
        cast(null as double) as mean_c,
        cast(count(*) as integer) as readings
    from water_delta_days
    group by meter_id, day

),

temperature_daily as (

    select
        meter_id,
        {{ local_date('reading_at') }} as day,
        cast(null as double) as volume_m3,
        avg(value) as mean_c,
        cast(count(*) as integer) as readings
    from latest
    where unit = 'degC'
    group by meter_id, {{ local_date('reading_at') }}

),

daily as (

    select * from water_daily
    union all
    select * from temperature_daily

),

final as (

    select
        daily.meter_id || '|' || cast(daily.day as varchar) as meter_day_key,
        daily.meter_id,
        daily.day,
        meters.kind,
        meters.unit,
        meters.is_potable,
        meters.of_meter_id,
        daily.volume_m3,
        daily.mean_c,
        daily.readings
    from daily
    inner join meters
        on daily.meter_id = meters.meter_id

)

select * from final
