-- Seconds of each UTC minute during which at least one job ran on a node: the union of the
-- job intervals on the node, not their sum. Overlapping and touching intervals are merged into
-- busy islands first (gaps and islands), so that the islands' overlaps with a minute can be added.

with

allocations as (

    select * from {{ ref('int_job_node_allocations') }}

),

intervals as (

    select
        node,
        epoch_us(start_at) as start_us,
        epoch_us(end_at) as end_us
    from allocations

),

reaches as (

    select
        node,
        start_us,
        end_us,
        max(end_us) over (
            partition by node
            order by start_us, end_us
            rows between unbounded preceding and 1 preceding
        ) as reach_before_us
    from intervals

),

island_numbers as (

    select
        node,
        start_us,
        end_us,
        sum(case when reach_before_us is null or start_us > reach_before_us then 1 else 0 end) over (
            partition by node
            order by start_us, end_us
            rows between unbounded preceding and current row
        ) as island_no
    from reaches

),

islands as (

    select
        node,
        island_no,
        min(start_us) as start_us,
        max(end_us) as end_us
    from island_numbers
    group by node, island_no

),

island_minutes as (

    select
        node,
        start_us,
        end_us,
        unnest(range(start_us // 60000000, (end_us - 1) // 60000000 + 1)) as minute_no
    from islands

),

final as (

    select
        node,
        make_timestamptz(minute_no * 60000000) as minute_at,
        sum(least(end_us, (minute_no + 1) * 60000000) - greatest(start_us, minute_no * 60000000)) / 1e6
            as occupied_s,
        sum(least(end_us, (minute_no + 1) * 60000000) - greatest(start_us, minute_no * 60000000)) / 6e7
            as occupancy
    from island_minutes
    group by node, minute_no

)

select * from final
