{# occ(n,m) from job intervals: the seconds of each UTC minute during which at least one job
   ran on a node, i.e. the union of the intervals, not their sum. Overlapping and touching
   intervals are merged into busy islands first (gaps and islands), so that the islands'
   overlaps with a minute can be added. `intervals` names a relation or CTE with columns
   node, start_us, end_us (epoch microseconds); the result has node, minute_no (epoch
   minutes) and occupied_us. Used by int_node_minute_occupancy and, on the recomputed days
   only, by int_job_node_minute_energy. #}
{% macro energy_occupied_minutes(intervals) %}
    select
        node,
        minute_no,
        sum(least(end_us, (minute_no + 1) * 60000000) - greatest(start_us, minute_no * 60000000))
            as occupied_us
    from (
        select
            node,
            start_us,
            end_us,
            unnest(range(start_us // 60000000, (end_us - 1) // 60000000 + 1)) as minute_no
        from (
            select
                node,
                min(start_us) as start_us,
                max(end_us) as end_us
            from (
                select
                    node,
                    start_us,
                    end_us,
                    sum(case when reach_before_us is null or start_us > reach_before_us then 1 else 0 end) over (
                        partition by node
                        order by start_us, end_us
                        rows between unbounded preceding and current row
                    ) as island_no
                from (
                    select
                        node,
                        start_us,
                        end_us,
                        max(end_us) over (
                            partition by node
                            order by start_us, end_us
                            rows between unbounded preceding and 1 preceding
                        ) as reach_before_us
                    from {{ intervals }}
                ) as reaches
            ) as numbered
            group by node, island_no
        ) as islands
    ) as island_minutes
    group by node, minute_no
{% endmacro %}
