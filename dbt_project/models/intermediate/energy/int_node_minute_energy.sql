{{
    config(
        materialized='incremental',
        unique_key='day',
        incremental_strategy='delete+insert',
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
-- Times are handled as integer microseconds since the epoch for speed and exactness.

{%- set window = energy_window(power=true) %}
{%- set fallback_interval_us = (var('power_fallback_interval_s', 60) | int) * 1000000 %}

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

    -- a dense integer per node: partitioning the ordered pass on it is much faster than on names
    select
        node,
        row_number() over (order by node) as node_no
    from (select distinct node from samples) as names

),

numbered as (

    select
        node_numbers.node_no,
        epoch_us(samples.sample_at) as sample_us,
        samples.watts,
        samples.ingest_id,
        -- delivery order as one sort key (line numbers stay below 2^32)
        samples.ingest_id * 4294967296 + samples.line_no as delivery_no
    from samples
    inner join node_numbers on samples.node = node_numbers.node

),

ordered as (

    -- the one ordered pass: the deliveries of an instant sit next to each other, latest last
    select
        node_no,
        sample_us,
        watts,
        ingest_id,
        lead(sample_us) over (
            partition by node_no
            order by sample_us, delivery_no
        ) as following_us
    from numbered

),

deduplicated as (

    -- the last delivery of an instant is the one followed by the next instant (or by nothing)
    select
        node_no,
        sample_us,
        watts,
        ingest_id,
        following_us as next_us,
        sample_us // 86400000000 as utc_day_no
    from ordered
    where following_us is null or following_us > sample_us

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

    select
        node_no,
        watts,
        ingest_id,
        sample_us as from_us,
        sample_us + least(coalesce(next_us - sample_us, 5 * interval_us), 5 * interval_us) as to_us,
        coalesce(next_us - sample_us <= 1.5 * interval_us, false) as is_measured
    from with_intervals

),

bounded as not materialized (

    select
        *,
        from_us // 60000000 as first_minute_no,
        (to_us - 1) // 60000000 as last_minute_no
    from holds

),

pieces as (

    -- most holds lie inside one minute; only the others are split at minute boundaries
    -- (the CTEs above are inlined into both branches rather than held in memory)
    select
        node_no,
        watts,
        ingest_id,
        is_measured,
        first_minute_no as minute_no,
        to_us - from_us as held_us
    from bounded
    where first_minute_no = last_minute_no

    union all

    select
        node_no,
        watts,
        ingest_id,
        is_measured,
        minute_no,
        least(to_us, (minute_no + 1) * 60000000) - greatest(from_us, minute_no * 60000000) as held_us
    from (
        select
            *,
            unnest(range(first_minute_no, last_minute_no + 1)) as minute_no
        from bounded
        where last_minute_no > first_minute_no
    ) as spanning

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

named as (

    select
        node_numbers.node,
        make_timestamptz(node_minutes.minute_no * 60000000) as minute_at,
        node_minutes.measured_j + node_minutes.interpolated_j as energy_j,
        node_minutes.measured_j,
        node_minutes.interpolated_j,
        node_minutes.measured_s + node_minutes.interpolated_s as covered_s,
        node_minutes.measured_s,
        node_minutes.interpolated_s,
        node_minutes.power_ingest_id
    from node_minutes
    inner join node_numbers on node_minutes.node_no = node_numbers.node_no

),

final as (

    select
        node,
        minute_at,
        {{ local_date('minute_at') }} as day,
        energy_j,
        measured_j,
        interpolated_j,
        covered_s,
        measured_s,
        interpolated_s,
        power_ingest_id
    from named
    where {{ energy_in_window(window, local_date('minute_at')) }}

)

select * from final
