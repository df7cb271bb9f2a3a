"""Suite marts.conservation: what the raw layer delivered is what the marts report, day by day.

Batch: one row per local day of the chunk, computed in DuckDB from raw.slurm_jobs (the latest
version of each allocation), fct_job_usage (each job's GPU-hours and core-hours split over
the local days it overlaps, as the accounting rules split them), fct_usage_daily and
fct_energy_daily. Sums agree within 0.01 plus one part in a million.
"""

from __future__ import annotations

from kirz.validation import make_suite

SUITE = "marts.conservation"
TABLE = "marts.fct_usage_daily"
GRAIN = "day"
REQUIRES = (
    "raw.slurm_jobs", "raw.inventory_nodes", "marts.fct_job_usage", "marts.fct_usage_daily",
    "marts.fct_energy_daily",
)
ABS_TOLERANCE = 0.01
REL_TOLERANCE = 1e-6

SEVERITY = {
    "conservation_jobs_raw_vs_mart": (
        "critical", "Every job that started according to the scheduler is in the job mart, once.",
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
    "conservation_jobs_raw_vs_mart": ["day", "raw_jobs_started", "mart_jobs_started"],
    "conservation_jobs_started": ["day", "mart_jobs_started", "daily_jobs_started"],
    "conservation_gpu_hours": ["day", "job_gpu_hours", "daily_gpu_hours"],
    "conservation_core_hours": ["day", "job_core_hours", "daily_core_hours"],
    "conservation_energy": ["day", "daily_it_energy_kwh", "estimated_job_kwh", "idle_node_kwh", "node_kwh"],
    "conservation_gpu_capacity": ["day", "daily_gpu_hours", "gpu_hours_capacity"],
}


def load_frame(con, scope):
    # Energy estimated for jobs without samples is attributed to jobs but is not node energy;
    # the energy mart reports it apart (job_estimated_kwh) when it keeps it.
    has_estimated = bool(con.execute(
        "select count(*) from information_schema.columns where table_schema = 'marts' "
        "and table_name = 'fct_energy_daily' and column_name = 'job_estimated_kwh'"
    ).fetchall()[0][0])
    estimated = "coalesce(e.job_estimated_kwh, 0)" if has_estimated else "0"

    def excess(a: str, b: str) -> str:
        return f"abs({a} - {b}) - ($abs_tol + $rel_tol * greatest(abs({a}), abs({b})))"

    sql = f"""
    with days as (select * from dq_days),
    touched as (
        select distinct cluster, allocation_id from raw.slurm_jobs
        where not coalesce(is_step, false) and start_at >= $lo and start_at < $hi
    ),
    latest as (
        select j.cluster, j.allocation_id, j.start_at,
               row_number() over (partition by j.cluster, j.allocation_id order by j.ingest_id desc, j.line_no desc) as rn
        from raw.slurm_jobs j join touched t using (cluster, allocation_id)
        where not coalesce(j.is_step, false)
    ),
    raw_started as (
        select {scope.local_day('start_at')} as day, count(*) as n
        from latest where rn = 1 and start_at is not null group by 1
    ),
    mart_started as (
        select {scope.local_day('start_at')} as day, count(*) as n
        from marts.fct_job_usage where start_at >= $lo and start_at < $hi group by 1
    ),
    job_split as (
        select d.day,
               sum(case when epoch(j.end_at) > epoch(j.start_at)
                        then j.gpu_hours * (epoch(least(j.end_at, d.day_end)) - epoch(greatest(j.start_at, d.day_start)))
                             / (epoch(j.end_at) - epoch(j.start_at)) else 0 end) as gpu_hours,
               sum(case when epoch(j.end_at) > epoch(j.start_at)
                        then j.cpu_core_hours * (epoch(least(j.end_at, d.day_end)) - epoch(greatest(j.start_at, d.day_start)))
                             / (epoch(j.end_at) - epoch(j.start_at)) else 0 end) as core_hours
        from days d join marts.fct_job_usage j
          on j.start_at < d.day_end and j.end_at > d.day_start
        group by d.day
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
               coalesce(rs.n, 0) as raw_jobs_started,
               coalesce(ms.n, 0) as mart_jobs_started,
               coalesce(da.jobs_started, 0) as daily_jobs_started,
               coalesce(js.gpu_hours, 0) as job_gpu_hours,
               coalesce(da.gpu_hours, 0) as daily_gpu_hours,
               coalesce(js.core_hours, 0) as job_core_hours,
               coalesce(da.core_hours, 0) as daily_core_hours,
               coalesce(da.it_energy_kwh, 0) as daily_it_energy_kwh,
               e.idle_node_kwh, e.node_kwh, {estimated} as estimated_job_kwh,
               (select gpus from installed) * d.hours as gpu_hours_capacity
        from days d
        left join raw_started rs using (day)
        left join mart_started ms using (day)
        left join job_split js using (day)
        left join daily da using (day)
        left join marts.fct_energy_daily e on e.day = d.day
    )
    select f.day as period_start, f.day as period_end, f.*,
           abs(raw_jobs_started - mart_jobs_started) as jobs_raw_gap,
           abs(daily_jobs_started - mart_jobs_started) as jobs_daily_gap,
           {excess('job_gpu_hours', 'daily_gpu_hours')} as gpu_hours_excess,
           {excess('job_core_hours', 'daily_core_hours')} as core_hours_excess,
           {excess('daily_it_energy_kwh - estimated_job_kwh + idle_node_kwh', 'node_kwh')} as energy_excess,
           daily_gpu_hours - gpu_hours_capacity - ($abs_tol + $rel_tol * gpu_hours_capacity) as capacity_excess
    from f
    order by f.day
    """
    return con.execute(
        sql,
        {"lo": scope.utc_start, "hi": scope.utc_end, "abs_tol": ABS_TOLERANCE, "rel_tol": REL_TOLERANCE},
    ).df()


def build_suite():
    import great_expectations as gx

    E = gx.expectations
    return make_suite(SUITE, SEVERITY, EXAMPLES, [
        ("conservation_jobs_raw_vs_mart", E.ExpectColumnValuesToBeBetween(column="jobs_raw_gap", min_value=0, max_value=0)),
        ("conservation_jobs_started", E.ExpectColumnValuesToBeBetween(column="jobs_daily_gap", min_value=0, max_value=0)),
        ("conservation_gpu_hours", E.ExpectColumnValuesToBeBetween(column="gpu_hours_excess", max_value=0)),
        ("conservation_core_hours", E.ExpectColumnValuesToBeBetween(column="core_hours_excess", max_value=0)),
        ("conservation_energy", E.ExpectColumnValuesToBeBetween(column="energy_excess", max_value=0)),
        ("conservation_gpu_capacity", E.ExpectColumnValuesToBeBetween(column="capacity_excess", max_value=0)),
    ])
