"""Suite raw.node_power: node power samples in watts.

A 300-node day holds millions of samples, and none of the checks needs them row by row, so
the batch is aggregated in DuckDB, one local day at a time, to one row per node and day: the
nodes of the latest inventory (a node without samples has coverage 0) and every node that
sent samples. Coverage follows the accounting rule: a sample holds until the next one, for at
most five sampling intervals (the node's median gap that day); the last sample holds one interval.
A gap longer than that is missing energy data: reported per node and day as a warning.
Coverage is judged up to the latest sample delivered so far (the trailing, not yet delivered
part of the last day is not a gap).
"""

from __future__ import annotations

from kirz.validation import make_suite

SUITE = "raw.node_power"
TABLE = "raw.node_power"
GRAIN = "day"
REQUIRES = ("raw.node_power", "raw.inventory_nodes")
MIN_COVERAGE_PCT = 95.0
MAX_HOLD_INTERVALS = 5

SEVERITY = {
    "power_watts_valid": ("critical", "Every power sample is a number."),
    "power_watts_nonnegative": ("critical", "No node draws negative power."),
    "power_watts_within_node_max": (
        "critical", "No node draws more power than its rated maximum in the inventory.",
    ),
    "power_nodes_in_inventory": ("critical", "Every node that sends power samples is listed in the inventory."),
    "power_samples_before_delivery": (
        "critical", "No power sample is dated after the moment its file was delivered.",
    ),
    "power_coverage": (
        "warning", "Power samples cover at least 95 % of each day for every installed node.",
    ),
    "power_no_conflicting_duplicates": (
        "warning", "A node never reports two different power values for the same instant.",
    ),
    "power_no_gap_beyond_hold": (
        "warning", "No node's power samples stop for longer than five sampling intervals (longer gaps are missing energy data).",
    ),
}

EXAMPLES = {
    "power_watts_valid": ["node", "period_start", "invalid_samples"],
    "power_watts_nonnegative": ["node", "period_start", "min_watts"],
    "power_watts_within_node_max": ["node", "period_start", "max_watts", "max_w", "samples_over_max"],
    "power_nodes_in_inventory": ["node", "period_start", "samples"],
    "power_samples_before_delivery": ["node", "period_start", "samples_after_delivery", "max_ahead_s"],
    "power_coverage": ["node", "period_start", "coverage_pct", "samples"],
    "power_no_conflicting_duplicates": ["node", "period_start", "conflicting_instants"],
    "power_no_gap_beyond_hold": ["node", "period_start", "gaps_beyond_hold", "longest_gap_s"],
}

_DAY_SQL = """
with inv as (
    select node, max(max_w) as max_w from raw.inventory_nodes
    where ingest_id = (select max(ingest_id) from raw.inventory_nodes)
    group by node
),
p as (
    select node, epoch_us(sample_at) as us, watts, epoch_us(received_at) as received_us
    from raw.node_power
    where sample_at >= $day_start and sample_at < $day_end + interval 1 hour
),
g as (
    select node, us, watts, received_us,
           (lead(us) over (partition by node order by us) - us) / 1e6 as gap_s
    from p
),
d as (
    select * from g where us < $day_end_us
),
dups as (
    select distinct node, us from d where gap_s = 0
),
conflicts as (
    select node, count(*) as conflicting_instants
    from (
        select p.node, p.us from p join dups using (node, us)
        group by p.node, p.us
        having count(distinct p.watts) > 1
    )
    group by node
),
iv as (
    select d.node, coalesce(median(gap_s) filter (where gap_s > 0), 0) as interval_s, any_value(inv.max_w) as max_w
    from d left join inv using (node)
    group by d.node
),
agg as (
    select d.node,
           count(*) as samples,
           count(*) filter (where watts is null or not isfinite(watts)) as invalid_samples,
           min(watts) filter (where isfinite(watts)) as min_watts,
           max(watts) filter (where isfinite(watts)) as max_watts,
           count(*) filter (where watts > iv.max_w) as samples_over_max,
           count(*) filter (where (us - received_us) / 1e6 > $tolerance) as samples_after_delivery,
           count(*) filter (where iv.interval_s > 0 and gap_s > $hold * iv.interval_s) as gaps_beyond_hold,
           max(gap_s) as longest_gap_s,
           max((us - received_us) / 1e6) as max_ahead_s,
           sum(greatest(least(coalesce(gap_s, iv.interval_s), $hold * iv.interval_s,
                              ($judged_end_us - us) / 1e6), 0)) as covered_s
    from d join iv using (node)
    group by d.node
)
select
    cast($day as date) as period_start,
    cast($day as date) as period_end,
    coalesce(agg.node, inv.node) as node,
    inv.node is not null as in_inventory,
    coalesce(agg.samples, 0) as samples,
    coalesce(agg.invalid_samples, 0) as invalid_samples,
    agg.min_watts,
    agg.max_watts,
    inv.max_w,
    coalesce(agg.samples_over_max, 0) as samples_over_max,
    coalesce(conflicts.conflicting_instants, 0) as conflicting_instants,
    coalesce(agg.samples_after_delivery, 0) as samples_after_delivery,
    agg.max_ahead_s,
    coalesce(agg.gaps_beyond_hold, 0) as gaps_beyond_hold,
    agg.longest_gap_s,
    case when inv.node is not null and $judged_end_us > $day_start_us
         then round(100.0 * coalesce(agg.covered_s, 0) / (($judged_end_us - $day_start_us) / 1e6), 3) end
        as coverage_pct
from agg
full outer join inv on agg.node = inv.node
left join conflicts on conflicts.node = coalesce(agg.node, inv.node)
order by node
"""


def _us(t) -> int:
    return int(t.timestamp() * 1_000_000)


def load_frame(con, scope):
    import pandas as pd

    # Coverage is judged up to the latest sample delivered so far: the part of a day that no
    # power file has reached yet is not a gap (a day inside the history without samples is).
    horizon = con.execute(
        "select max(sample_at) from raw.node_power where sample_at >= ?", [scope.utc_start]
    ).fetchall()[0][0]
    frames = []
    for day in sorted(scope.days):
        start, end = scope.day_bounds(day)
        judged_end = start if horizon is None else min(end, max(horizon, start))
        frames.append(
            con.execute(
                _DAY_SQL,
                {
                    "day": day, "day_start": start, "day_end": end, "day_start_us": _us(start),
                    "day_end_us": _us(end), "judged_end_us": _us(judged_end),
                    "tolerance": scope.future_tolerance_s, "hold": MAX_HOLD_INTERVALS,
                },
            ).df()
        )
    return pd.concat(frames, ignore_index=True)


def build_suite():
    import great_expectations as gx

    E = gx.expectations
    return make_suite(SUITE, SEVERITY, EXAMPLES, [
        ("power_watts_valid", E.ExpectColumnValuesToBeBetween(column="invalid_samples", min_value=0, max_value=0)),
        ("power_watts_nonnegative", E.ExpectColumnValuesToBeBetween(column="min_watts", min_value=0)),
        ("power_watts_within_node_max",
         E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="max_w", column_B="max_watts", or_equal=True,
                                                   ignore_row_if="either_value_is_missing")),
        ("power_nodes_in_inventory", E.ExpectColumnValuesToBeInSet(column="in_inventory", value_set=[True])),
        ("power_samples_before_delivery",
         E.ExpectColumnValuesToBeBetween(column="samples_after_delivery", min_value=0, max_value=0)),
        ("power_coverage",
         E.ExpectColumnValuesToBeBetween(column="coverage_pct", min_value=MIN_COVERAGE_PCT, max_value=100.0)),
        ("power_no_conflicting_duplicates",
         E.ExpectColumnValuesToBeBetween(column="conflicting_instants", min_value=0, max_value=0)),
        ("power_no_gap_beyond_hold",
         E.ExpectColumnValuesToBeBetween(column="gaps_beyond_hold", min_value=0, max_value=0)),
    ])
