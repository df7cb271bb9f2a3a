"""Suite marts.conservation: the marts the reports read add up to the accounting fact, day by day.

The rules live in dbt and are read here, never repeated: which version of an allocation counts
(``intermediate.int_jobs_resolved``: the latest delivery) and how a job's usage and energy are
split over the local days it runs (``intermediate.int_job_days_accounted``). Batch: one row per
local day of the chunk, computed in DuckDB from those models, fct_job_usage, fct_usage_daily,
fct_energy_daily and the installed GPUs, so that a failure blocks exactly the days it concerns.

Two sides agree when |a - b| <= t x max(1, |a|, |b|), with t the dbt var
``conservation_tolerance`` that the dbt conservation tests use too (read from ``ref.settings``,
see :func:`kirz.validation.dbt_setting`).
"""

from __future__ import annotations

from kirz.validation import dbt_setting, make_suite

SUITE = "marts.conservation"
TABLE = "marts.fct_usage_daily"
GRAIN = "day"
REQUIRES = (
    "intermediate.int_jobs_resolved", "intermediate.int_job_days_accounted", "raw.inventory_nodes",
    "marts.fct_job_usage", "marts.fct_usage_daily", "marts.fct_energy_daily",
)

SEVERITY = {
    "conservation_jobs_raw_vs_mart": (
        "critical", "Every job that started according to the scheduler (its latest record) is in the job mart, once.",
    ),
    "conservation_jobs_started": (
        "critical", "The daily usage table counts exactly the jobs of the job mart that started that day.",
    ),
    "conservation_gpu_hours": (
        "critical", "Daily GPU-hours add up to the GPU-hours of the jobs running that day.",
    ),
    "conservation_core_hours": (
        "critical", "Daily core-hours add up to the core-hours of the jobs running that day.",
    ),
    "conservation_energy": (
        "critical",
        "Energy attributed to jobs from node measurements plus idle energy equals the energy measured at the nodes.",
    ),
    "conservation_gpu_capacity": (
        "critical", "No day reports more GPU-hours than the installed GPUs can deliver.",
    ),
}

EXAMPLES = {
    "conservation_jobs_raw_vs_mart": ["day", "resolved_jobs_started", "mart_jobs_started", "jobs_unmatched"],
    "conservation_jobs_started": ["day", "mart_jobs_started", "daily_jobs_started"],
    "conservation_gpu_hours": ["day", "job_gpu_hours", "daily_gpu_hours"],
    "conservation_core_hours": ["day", "job_core_hours", "daily_core_hours"],
    "conservation_energy": ["day", "daily_it_energy_kwh", "estimated_job_kwh", "idle_node_kwh", "node_kwh"],
    "conservation_gpu_capacity": ["day", "daily_gpu_hours", "gpu_hours_capacity"],
}


def _excess(a: str, b: str) -> str:
    """SQL: by how much |a - b| exceeds the tolerance (<= 0: the two sides agree)."""
    return f"abs(({a}) - ({b})) - $tolerance * greatest(1, abs({a}), abs({b}))"


def load_frame(con, scope):
    tolerance = float(dbt_setting(con, "conservation_tolerance"))
    sql = f"""
    with days as (select * from dq_days),
    resolved as (
        select job_key, {scope.local_day('start_at')} as day
        from intermediate.int_jobs_resolved
        where start_at >= $lo and start_at < $hi
    ),
    mart_jobs as (
        select job_key, {scope.local_day('start_at')} as day, count(*) as n
        from marts.fct_job_usage
        where start_at >= $lo and start_at < $hi
        group by all
    ),
    -- a started job is matched when the job mart has it once, on the same day
    job_match as (
        select coalesce(r.day, m.day) as day,
               count(r.job_key) as resolved_jobs_started,
               coalesce(sum(m.n), 0) as mart_jobs_started,
               count(*) filter (where r.job_key is null or m.job_key is null or m.n <> 1 or r.day <> m.day)
                   as jobs_unmatched
        from resolved r full outer join mart_jobs m using (job_key)
        group by 1
    ),
    -- the accounting fact: each job's usage and energy on each local day
    accounted as (
        select day, sum(gpu_hours) as gpu_hours, sum(cpu_core_hours) as core_hours,
               sum(estimated_kwh) as estimated_kwh
        from intermediate.int_job_days_accounted
        where day in (select day from days)
        group by day
    ),
    daily as (
        select day, sum(jobs_started) as jobs_started, sum(gpu_hours) as gpu_hours,
               sum(cpu_core_hours) as core_hours, sum(it_energy_kwh) as it_energy_kwh
        from marts.fct_usage_daily where day in (select day from days) group by day
    ),
    installed as (
        select coalesce(sum(gpus), 0) as gpus from raw.inventory_nodes
        where ingest_id = (select max(ingest_id) from raw.inventory_nodes)
    ),
    f as (
        select d.day, d.hours,
               coalesce(jm.resolved_jobs_started, 0) as resolved_jobs_started,
               coalesce(jm.mart_jobs_started, 0) as mart_jobs_started,
               coalesce(jm.jobs_unmatched, 0) as jobs_unmatched,
               coalesce(da.jobs_started, 0) as daily_jobs_started,
               coalesce(ac.gpu_hours, 0) as job_gpu_hours,
               coalesce(da.gpu_hours, 0) as daily_gpu_hours,
               coalesce(ac.core_hours, 0) as job_core_hours,
               coalesce(da.core_hours, 0) as daily_core_hours,
               coalesce(da.it_energy_kwh, 0) as daily_it_energy_kwh,
               -- estimated for busy time without samples: attributed to jobs, not node energy
               coalesce(ac.estimated_kwh, 0) as estimated_job_kwh,
               e.idle_node_kwh, e.node_kwh,
               (select gpus from installed) * d.hours as gpu_hours_capacity
        from days d
        left join job_match jm using (day)
        left join accounted ac using (day)
        left join daily da using (day)
        left join marts.fct_energy_daily e on e.day = d.day
    )
    select f.day as period_start, f.day as period_end, f.*,
           abs(daily_jobs_started - mart_jobs_started) as jobs_daily_gap,
           {_excess('job_gpu_hours', 'daily_gpu_hours')} as gpu_hours_excess,
           {_excess('job_core_hours', 'daily_core_hours')} as core_hours_excess,
           {_excess('daily_it_energy_kwh - estimated_job_kwh + idle_node_kwh', 'node_kwh')} as energy_excess,
           daily_gpu_hours - gpu_hours_capacity - $tolerance * greatest(1, gpu_hours_capacity) as capacity_excess
    from f
    order by f.day
    """
    return con.execute(sql, {"lo": scope.utc_start, "hi": scope.utc_end, "tolerance": tolerance}).df()


def build_suite():
    import great_expectations as gx

    E = gx.expectations
    return make_suite(SUITE, SEVERITY, EXAMPLES, [
        ("conservation_jobs_raw_vs_mart", E.ExpectColumnValuesToBeBetween(column="jobs_unmatched", min_value=0, max_value=0)),
        ("conservation_jobs_started", E.ExpectColumnValuesToBeBetween(column="jobs_daily_gap", min_value=0, max_value=0)),
        ("conservation_gpu_hours", E.ExpectColumnValuesToBeBetween(column="gpu_hours_excess", max_value=0)),
        ("conservation_core_hours", E.ExpectColumnValuesToBeBetween(column="core_hours_excess", max_value=0)),
        ("conservation_energy", E.ExpectColumnValuesToBeBetween(column="energy_excess", max_value=0)),
        ("conservation_gpu_capacity", E.ExpectColumnValuesToBeBetween(column="capacity_excess", max_value=0)),
    ])
