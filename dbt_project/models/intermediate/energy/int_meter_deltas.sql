-- Energy between consecutive readings of each facility meter (cumulative kWh registers).
-- A reading delivered more than once for the same meter and instant counts once (latest
-- delivery wins). A register that drops has either rolled over or been reset: a drop from
-- the top decile below a power of ten to the bottom decile above zero (999,999.9 -> 12.3) is
-- a rollover, delta = 10^k - previous + new; any other drop is a reset, counted from zero,
-- delta = new. Negative deltas are never counted.

with

readings as (

    select * from {{ ref('stg_meters__readings') }}

),

latest as (

    select * from readings
    qualify row_number() over (
        partition by meter_id, reading_at
        order by ingest_id desc, line_no desc
    ) = 1

),

sequenced as (

    select
        meter_id,
        reading_at,
        register_kwh,
        ingest_id,
        lag(reading_at) over by_time as previous_reading_at,
        lag(register_kwh) over by_time as previous_register_kwh
    from latest
    window by_time as (partition by meter_id order by reading_at)

),

spans as (

    select
        *,
        -- the register capacity a rollover would wrap at: the next power of ten above the previous value
        case
            when previous_register_kwh > 0
                then power(10, floor(log10(previous_register_kwh)) + 1)
        end as register_span_kwh
    from sequenced

),

classified as (

    select
        *,
        case
            when previous_register_kwh is null then 'first'
            when register_kwh >= previous_register_kwh then 'normal'
            when previous_register_kwh >= 0.9 * register_span_kwh
                and register_kwh < 0.1 * register_span_kwh then 'rollover'
            else 'reset'
        end as delta_kind
    from spans

),

final as (

    select
        meter_id,
        previous_reading_at,
        reading_at,
        previous_register_kwh,
        register_kwh,
        delta_kind,
        greatest(0, case delta_kind
            when 'normal' then register_kwh - previous_register_kwh
            when 'rollover' then register_span_kwh - previous_register_kwh + register_kwh
            when 'reset' then register_kwh
        end) as delta_kwh,
        ingest_id
    from classified
    where delta_kind <> 'first'

)

select * from final
