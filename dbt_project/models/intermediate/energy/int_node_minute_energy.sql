{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ energy_delete_window(power=true) }}"
    )
}}

-- Energy of each node in each UTC minute, integrated from its power samples in one ordered
-- pass. Each sample holds from its instant until the next sample of the node, for at most
-- 5 typical intervals (the node's median gap between samples within the UTC day, rounded to
-- whole seconds); a sample with no successor holds the same 5 intervals. A hold is split
-- exactly at minute boundaries. Hold time is 'measured' when the gap to the next sample is at
-- most 1.5 intervals, otherwise 'interpolated' (bridged); time beyond the 5-interval limit is
-- missing (not covered). Exact duplicates (node, sample_at): the latest delivery wins.
-- Times are handled as integer microseconds since the epoch for speed and exactness; the
-- pass sorts a single bigint key (node number and instant packed), the cheapest sort DuckDB
-- offers for it.

{%- set window = energy_window(power=true) %}
{%- set fallback_interval_us = (var('power_fallback_interval_s') | int) * 1000000 %}
{#- a sample's hold [from_us, to_us) and its quality, from with_intervals #}
{%- set hold_columns %}
        node_no,
        watts,
        ingest_id,
        sample_us as from_us,
        sample_us + least(coalesce(next_us - sample_us, 5 * interval_us), 5 * interval_us) as to_us,
        coalesce(next_us - sample_us <= 1.5 * interval_us, false) as is_measured
{%- endset %}

with

-- read twice (node names, then the pass): a second scan is far cheaper than holding the samples
samples as not materialized (

    select
        node,
        sample_at,
        watts,
        ingest_id,
        line_no
    from {{ ref('stg_power__node_samples') }}
    -- from the UTC day before the first recomputed local day (samples held into it, and the
    -- whole UTC day whose typical interval they use) to two UTC days after the last (the
    -- samples of the UTC day the local day ends in, with their successors)
    where {{ energy_near_window(window, 'sample_at', 1, 2) }}

),

node_numbers as (

    -- a dense integer per node, to pack node and instant into one sort key
    select
        node,
        row_number() over (order by node) as node_no
    from (select distinct node from samples) as names

),

origin as (

    -- instants are counted from the first sample, so node and instant fit one bigint key
    -- (node numbers below 2^15, instants within 2^48 microseconds, about 8.9 years)
    select
        min(epoch_us(sample_at)) as origin_us,
        max(epoch_us(sample_at)) - min(epoch_us(sample_at)) as span_us
    from samples

),

keyed as (

    select
        case
            when node_numbers.node_no >= 32768 or origin.span_us >= 281474976710656
                then error('int_node_minute_energy: more than 32767 nodes or 8.9 years of samples in one pass')
            else node_numbers.node_no * 281474976710656 + (epoch_us(samples.sample_at) - origin.origin_us)
        end as sample_key,
        samples.watts,
        -- delivery order as one tie-breaker (line numbers stay below 2^32)
        samples.ingest_id * 4294967296 + samples.line_no as delivery_no
    from samples
    inner join node_numbers on samples.node = node_numbers.node
    cross join origin

),

ordered as (

    -- the one ordered pass, a single sort on one integer key: each node's samples in time
    -- order, the deliveries of an instant next to each other, latest last
    select
        sample_key,
        watts,
        delivery_no,
        lead(sample_key) over (order by sample_key, delivery_no) as following_key
    from keyed

),

deduplicated as (

    -- the last delivery of an instant is the one followed by the next instant (or by nothing);
    -- a following key of another node means no successor
    select
        ordered.sample_key // 281474976710656 as node_no,
        ordered.sample_key % 281474976710656 + origin.origin_us as sample_us,
        ordered.watts,
        ordered.delivery_no // 4294967296 as ingest_id,
        case
            when ordered.following_key // 281474976710656 = ordered.sample_key // 281474976710656
                then ordered.following_key % 281474976710656 + origin.origin_us
        end as next_us,
        (ordered.sample_key % 281474976710656 + origin.origin_us) // 86400000000 as utc_day_no
    from ordered
    cross join origin
    where ordered.following_key is null or ordered.following_key > ordered.sample_key

),

gap_histogram as (

    -- gaps within the UTC day only, so a day's typical interval depends on its own samples
    select
        node_no,
        utc_day_no,
        greatest(1, round((next_us - sample_us) / 1e6)) as gap_s,
        count(*) as gaps
    from deduplicated
    where next_us // 86400000000 = utc_day_no
    group by node_no, utc_day_no, gap_s

),

gap_ranks as (

    select
        node_no,
        utc_day_no,
        gap_s,
        sum(gaps) over (
            partition by node_no, utc_day_no
            order by gap_s
            rows between unbounded preceding and current row
        ) as gaps_up_to,
        sum(gaps) over (partition by node_no, utc_day_no) as gaps_in_day
    from gap_histogram

),

typical_intervals as (

    -- the median gap (lower middle value when the count is even)
    select
        node_no,
        utc_day_no,
        cast(min(gap_s) as bigint) * 1000000 as interval_us
    from gap_ranks
    where 2 * gaps_up_to >= gaps_in_day
    group by node_no, utc_day_no

),

with_intervals as not materialized (

    select
        deduplicated.*,
        coalesce(typical_intervals.interval_us, {{ fallback_interval_us }}) as interval_us
    from deduplicated
    left join typical_intervals
        on deduplicated.node_no = typical_intervals.node_no
        and deduplicated.utc_day_no = typical_intervals.utc_day_no

),

holds as not materialized (

    select {{ hold_columns }}
    from with_intervals

),

first_pieces as not materialized (

    -- every hold's part in the minute it starts in: most holds lie wholly inside it
    select
        node_no,
        watts,
        ingest_id,
        is_measured,
        from_us // 60000000 as minute_no,
        least(to_us, (from_us // 60000000 + 1) * 60000000) - from_us as held_us
    from holds

),

later_pieces as not materialized (

    -- the parts of holds that reach into later minutes: only a hold whose next sample lies in
    -- a later minute (or that has none) can, so the rest of the samples is skipped early
    select
        node_no,
        watts,
        ingest_id,
        is_measured,
        minute_no,
        least(to_us, (minute_no + 1) * 60000000) - minute_no * 60000000 as held_us
    from (
        select
            node_no,
            watts,
            ingest_id,
            is_measured,
            to_us,
            unnest(range(from_us // 60000000 + 1, (to_us - 1) // 60000000 + 1)) as minute_no
        from (
            select
                node_no,
                watts,
                ingest_id,
                from_us,
                to_us,
                is_measured
            from (
                select {{ hold_columns }}
                from with_intervals
                -- filtered before the typical intervals are joined
                where next_us is null or next_us // 60000000 > sample_us // 60000000
            ) as reaching_holds
        ) as reaching
        where (to_us - 1) // 60000000 > from_us // 60000000
    ) as spanning

),

pieces as (

    select * from first_pieces
    union all
    select * from later_pieces

),

node_minutes as (

    select
        node_no,
        minute_no,
        sum(case when is_measured then watts * held_us else 0 end) / 1e6 as measured_j,
        sum(case when is_measured then 0 else watts * held_us end) / 1e6 as interpolated_j,
        sum(case when is_measured then held_us else 0 end) / 1e6 as measured_s,
        sum(case when is_measured then 0 else held_us end) / 1e6 as interpolated_s,
        max(ingest_id) as power_ingest_id
    from pieces
    group by node_no, minute_no

),

day_map as (

    {{ quarter_hour_days('node_minutes') }}

),

final as (

    select
        node_numbers.node,
        make_timestamptz(node_minutes.minute_no * 60000000) as minute_at,
        day_map.day,
        node_minutes.measured_j + node_minutes.interpolated_j as energy_j,
        node_minutes.measured_j,
        node_minutes.interpolated_j,
        node_minutes.measured_s + node_minutes.interpolated_s as covered_s,
        node_minutes.measured_s,
        node_minutes.interpolated_s,
        node_minutes.power_ingest_id
    from node_minutes
    inner join node_numbers on node_minutes.node_no = node_numbers.node_no
    inner join day_map on node_minutes.minute_no // 15 = day_map.quarter_no
    where {{ energy_in_window(window, 'day_map.day') }}

)

select * from final
