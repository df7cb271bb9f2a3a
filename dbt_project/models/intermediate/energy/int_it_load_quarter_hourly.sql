-- IT load per UTC quarter-hour from the top-level IT meters: each delta is spread over the
-- quarter-hours by the overlap of its interval, and the quarter's energy gives its average
-- power (kWh / 0.25 h). The daily peak IT load is the highest of these.

with

deltas as (

    select * from {{ ref('int_meter_deltas') }}

),

meters as (

    select * from {{ ref('stg_inventory__meters') }}

),

it_meters as (

    select meters.meter_id
    from meters
    left join meters as parents on meters.parent_meter_id = parents.meter_id
    where meters.kind = 'it'
      and (parents.meter_id is null or parents.kind <> 'it')

),

it_deltas as (

    select
        deltas.meter_id,
        epoch_us(deltas.previous_reading_at) as from_us,
        epoch_us(deltas.reading_at) as to_us,
        deltas.delta_kwh
    from deltas
    inner join it_meters on deltas.meter_id = it_meters.meter_id

),

quarter_parts as (

    select
        meter_id,
        from_us,
        to_us,
        delta_kwh,
        unnest(range(from_us // 900000000, (to_us - 1) // 900000000 + 1)) as quarter_no
    from it_deltas

),

quarters as (

    select
        quarter_no,
        sum(
            delta_kwh
            * (least(to_us, (quarter_no + 1) * 900000000) - greatest(from_us, quarter_no * 900000000))
            / (to_us - from_us)
        ) as it_kwh,
        sum(least(to_us, (quarter_no + 1) * 900000000) - greatest(from_us, quarter_no * 900000000)) / 1e6
            as covered_meter_s,
        count(distinct meter_id) as meters
    from quarter_parts
    group by quarter_no

),

final as (

    select
        make_timestamptz(quarter_no * 900000000) as quarter_at,
        {{ local_date('make_timestamptz(quarter_no * 900000000)') }} as day,
        it_kwh,
        it_kwh / 0.25 as it_kw,
        covered_meter_s,
        meters
    from quarters

)

select * from final
