"""Suite raw.gpu_samples: GPU samples of the NVIDIA DCGM exporter.

Like node power, the batch is aggregated in DuckDB one local day at a time to one row per node
and day: every node that sent GPU samples that day and, from the first day the centre
delivered any GPU sample (its exporters run), every node the latest inventory lists with GPUs
(a node without samples has coverage 0). Ranges are checked on every sample: utilisation within
0..100 %, power within 0..1,500 W (no GPU draws more), frame buffer used not negative; the GPU
index within the node's installed GPUs.

Coverage is that of utilisation, the figure busy GPU-hours are computed from: per GPU, each
utilisation sample holds until the next one, for at most five sampling intervals (the GPU's
median gap that day); the last sample holds one interval. A node's coverage is the covered
time of its installed GPUs over installed GPUs x the judged part of the day, which ends at the
latest GPU sample delivered so far (the trailing, not yet delivered part of the last day is no
gap). Instants the files give twice (one file per pulled metric, re-deliveries) count once.
"""

from __future__ import annotations

from kirz.validation import make_suite

SUITE = "raw.gpu_samples"
TABLE = "raw.gpu_samples"
GRAIN = "day"
REQUIRES = ("raw.gpu_samples", "raw.inventory_nodes")
MIN_COVERAGE_PCT = 95.0
MAX_HOLD_INTERVALS = 5
# no data-centre GPU draws more (H100 SXM: 700 W, B200: 1,000 W); DCGM reports milliwatts / 1000
MAX_GPU_W = 1500.0

SEVERITY = {
    "gpu_util_within_0_100": ("critical", "Every GPU utilisation sample lies between 0 and 100 %."),
    "gpu_power_plausible": ("warning", "Every GPU power sample lies between 0 and 1,500 W."),
    "gpu_memory_nonnegative": ("critical", "No GPU reports a negative amount of frame buffer in use."),
    "gpu_nodes_in_inventory": ("critical", "Every node that sends GPU samples is listed in the inventory."),
    "gpu_index_within_installed": (
        "critical", "Every GPU index a node reports is below the number of GPUs the inventory gives it.",
    ),
    "gpu_samples_before_delivery": (
        "critical", "No GPU sample is dated after the moment its file was delivered.",
    ),
    "gpu_coverage": (
        "warning", "Utilisation samples cover at least 95 % of each day for every installed GPU of a node.",
    ),
    "gpu_no_conflicting_duplicates": (
        "warning", "A GPU never reports two different values of one metric for the same instant.",
    ),
}

EXAMPLES = {
    "gpu_util_within_0_100": ["node", "period_start", "util_out_of_range", "min_util_pct", "max_util_pct"],
    "gpu_power_plausible": ["node", "period_start", "power_out_of_range", "max_power_w"],
    "gpu_memory_nonnegative": ["node", "period_start", "fb_negative"],
    "gpu_nodes_in_inventory": ["node", "period_start", "samples"],
    "gpu_index_within_installed": ["node", "period_start", "max_gpu_index", "installed_gpus"],
    "gpu_samples_before_delivery": ["node", "period_start", "samples_after_delivery", "max_ahead_s"],
    "gpu_coverage": ["node", "period_start", "coverage_pct", "gpus_seen", "installed_gpus"],
    "gpu_no_conflicting_duplicates": ["node", "period_start", "conflicting_instants"],
}

_DAY_SQL = """
with inv as (
    select node, max(gpus) as installed_gpus from raw.inventory_nodes
    where ingest_id = (select max(ingest_id) from raw.inventory_nodes)
    group by node
),
s as (
    select node, gpu_index, epoch_us(sample_at) as us, util_pct, power_w, fb_used_mib,
           epoch_us(received_at) as received_us
    from raw.gpu_samples
    where sample_at >= $day_start and sample_at < $day_end + interval 1 hour
),
day_rows as (
    select * from s where us < $day_end_us
),
util_instants as (
    select distinct node, gpu_index, us from s where util_pct is not null
),
g as (
    select node, gpu_index, us,
           (lead(us) over (partition by node, gpu_index order by us) - us) / 1e6 as gap_s
    from util_instants
),
d as (
    select * from g where us < $day_end_us
),
iv as (
    select node, gpu_index, coalesce(median(gap_s) filter (where gap_s > 0), 0) as interval_s
    from d
    group by node, gpu_index
),
covered as (
    select d.node,
           sum(greatest(least(coalesce(d.gap_s, iv.interval_s), $hold * iv.interval_s,
                              ($judged_end_us - d.us) / 1e6), 0)) as covered_s
    from d
    join iv using (node, gpu_index)
    join inv on d.node = inv.node and d.gpu_index < inv.installed_gpus
    group by d.node
),
conflicts as (
    select node, count(*) as conflicting_instants
    from (
        select node, gpu_index, us from day_rows
        group by node, gpu_index, us
        having count(distinct util_pct) > 1 or count(distinct power_w) > 1 or count(distinct fb_used_mib) > 1
    )
    group by node
),
agg as (
    select node,
           count(*) as samples,
           count(distinct gpu_index) as gpus_seen,
           max(gpu_index) as max_gpu_index,
           count(*) filter (where util_pct < 0 or util_pct > 100) as util_out_of_range,
           min(util_pct) as min_util_pct,
           max(util_pct) as max_util_pct,
           count(*) filter (where power_w < 0 or power_w > $max_w) as power_out_of_range,
           max(power_w) as max_power_w,
           count(*) filter (where fb_used_mib < 0) as fb_negative,
           count(*) filter (where (us - received_us) / 1e6 > $tolerance) as samples_after_delivery,
           max((us - received_us) / 1e6) as max_ahead_s
    from day_rows
    group by node
),
judged as (
    select node from inv where installed_gpus > 0 and $exporters_run
)
select
    cast($day as date) as period_start,
    cast($day as date) as period_end,
    coalesce(agg.node, judged.node) as node,
    inv.node is not null as in_inventory,
    inv.installed_gpus,
    coalesce(agg.samples, 0) as samples,
    coalesce(agg.gpus_seen, 0) as gpus_seen,
    agg.max_gpu_index,
    coalesce(agg.util_out_of_range, 0) as util_out_of_range,
    agg.min_util_pct,
    agg.max_util_pct,
    coalesce(agg.power_out_of_range, 0) as power_out_of_range,
    agg.max_power_w,
    coalesce(agg.fb_negative, 0) as fb_negative,
    coalesce(agg.samples_after_delivery, 0) as samples_after_delivery,
    agg.max_ahead_s,
    coalesce(conflicts.conflicting_instants, 0) as conflicting_instants,
    case when inv.installed_gpus > 0 and $judged_end_us > $day_start_us
         then round(100.0 * coalesce(covered.covered_s, 0)
                    / (inv.installed_gpus * ($judged_end_us - $day_start_us) / 1e6), 3) end as coverage_pct
from agg
full outer join judged on agg.node = judged.node
left join inv on inv.node = coalesce(agg.node, judged.node)
left join covered on covered.node = coalesce(agg.node, judged.node)
left join conflicts on conflicts.node = coalesce(agg.node, judged.node)
order by node
"""


def _us(t) -> int:
    return int(t.timestamp() * 1_000_000)


def load_frame(con, scope):
    import pandas as pd

    # the part of a day no GPU file has reached yet is not a gap; before the first GPU sample
    # ever delivered the centre ran no exporter, and no node is judged
    first, horizon = con.execute(
        "select min(sample_at), max(sample_at) filter (where sample_at >= ?) from raw.gpu_samples",
        [scope.utc_start],
    ).fetchall()[0]
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
                    "tolerance": scope.future_tolerance_s, "hold": MAX_HOLD_INTERVALS, "max_w": MAX_GPU_W,
                    "exporters_run": first is not None and first < end,
                },
            ).df()
        )
    return pd.concat(frames, ignore_index=True)


def build_suite():
    import great_expectations as gx

    E = gx.expectations
    return make_suite(SUITE, SEVERITY, EXAMPLES, [
        ("gpu_util_within_0_100",
         E.ExpectColumnValuesToBeBetween(column="util_out_of_range", min_value=0, max_value=0)),
        ("gpu_power_plausible",
         E.ExpectColumnValuesToBeBetween(column="power_out_of_range", min_value=0, max_value=0)),
        ("gpu_memory_nonnegative", E.ExpectColumnValuesToBeBetween(column="fb_negative", min_value=0, max_value=0)),
        ("gpu_nodes_in_inventory", E.ExpectColumnValuesToBeInSet(column="in_inventory", value_set=[True])),
        ("gpu_index_within_installed",
         E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="installed_gpus", column_B="max_gpu_index",
                                                   or_equal=False, ignore_row_if="either_value_is_missing")),
        ("gpu_samples_before_delivery",
         E.ExpectColumnValuesToBeBetween(column="samples_after_delivery", min_value=0, max_value=0)),
        ("gpu_coverage",
         E.ExpectColumnValuesToBeBetween(column="coverage_pct", min_value=MIN_COVERAGE_PCT, max_value=100.0)),
        ("gpu_no_conflicting_duplicates",
         E.ExpectColumnValuesToBeBetween(column="conflicting_instants", min_value=0, max_value=0)),
    ])
