"""Suite marts.fct_job_usage: one row per job allocation, with its usage, energy and contract.

Batch: the jobs that started on a chunk of local days. GPU-hours and core-hours are checked
against the job's own interval (GPUs × seconds / 3600), the usage area against the contract,
facility energy against IT energy (PUE ≥ 1), and the job's average power per node against the
largest node rating of the inventory.
"""

from __future__ import annotations

from kirz.validation import make_suite

SUITE = "marts.fct_job_usage"
TABLE = "marts.fct_job_usage"
GRAIN = "day"
REQUIRES = ("marts.fct_job_usage",)
USAGE_AREAS = ("methods_research", "cooperation", "education", "operations", "unassigned")
HOURS_TOLERANCE = 0.001

SEVERITY = {
    "job_usage_key_unique": ("critical", "Every job is counted exactly once."),
    "job_usage_nonnegative": ("critical", "No job has negative GPU-hours, core-hours, energy, emissions or cost."),
    "job_usage_end_after_start": ("critical", "No job ends before it starts."),
    "job_usage_gpu_hours": ("critical", "A job's GPU-hours equal its GPUs times its run time."),
    "job_usage_core_hours": ("critical", "A job's core-hours equal its CPU cores times its run time."),
    "job_usage_area_known": ("critical", "Every job is in exactly one known usage area."),
    "job_usage_contract_area": (
        "critical", "A job is 'unassigned' exactly when no contract covers it.",
    ),
    "job_usage_facility_ge_it": (
        "critical", "A job's facility energy is at least its IT energy (PUE is at least 1).",
    ),
    "job_usage_power_plausible": (
        "warning", "No job's average power per node exceeds the largest node rating in the inventory.",
    ),
}

EXAMPLES = {
    "job_usage_key_unique": ["job_key", "job_id", "key_rows"],
    "job_usage_nonnegative": ["job_id", "gpu_hours", "cpu_core_hours", "it_energy_kwh", "facility_energy_kwh", "co2e_kg", "cost_eur"],
    "job_usage_end_after_start": ["job_id", "start_at", "end_at"],
    "job_usage_gpu_hours": ["job_id", "gpus", "start_at", "end_at", "gpu_hours", "expected_gpu_hours"],
    "job_usage_core_hours": ["job_id", "cpus", "start_at", "end_at", "cpu_core_hours", "expected_core_hours"],
    "job_usage_area_known": ["job_id", "usage_area"],
    "job_usage_contract_area": ["job_id", "contract_id", "usage_area"],
    "job_usage_facility_ge_it": ["job_id", "it_energy_kwh", "facility_energy_kwh"],
    "job_usage_power_plausible": ["job_id", "nnodes", "it_energy_kwh", "avg_kw_per_node", "node_kw_limit"],
}


def load_frame(con, scope):
    has_inventory = bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = 'raw' and table_name = 'inventory_nodes'"
        ).fetchall()[0][0]
    )
    limit_sql = (
        "(select max(max_w) / 1000.0 from raw.inventory_nodes "
        "where ingest_id = (select max(ingest_id) from raw.inventory_nodes))"
        if has_inventory else "null"
    )
    sql = f"""
    with j as (
        select *, {scope.local_day('start_at')} as day, epoch(end_at) - epoch(start_at) as duration_s
        from marts.fct_job_usage
        where start_at >= $lo and start_at < $hi
    ),
    jd as (select * from j where day in (select day from dq_days)),
    keys as (
        select job_key, count(*) as key_rows from marts.fct_job_usage
        where job_key in (select job_key from jd) group by job_key
    )
    select
        jd.day as period_start, jd.day as period_end,
        jd.job_key, jd.job_id, jd.account, jd.state, jd.start_at, jd.end_at, jd.nnodes, jd.gpus, jd.cpus,
        jd.gpu_hours, jd.cpu_core_hours, jd.it_energy_kwh, jd.facility_energy_kwh, jd.co2e_kg, jd.cost_eur,
        jd.contract_id, jd.usage_area, coalesce(jd.usage_area, '(none)') as usage_area_or_none,
        keys.key_rows, jd.duration_s,
        least(jd.gpu_hours, jd.cpu_core_hours, jd.it_energy_kwh, jd.facility_energy_kwh, jd.co2e_kg, jd.cost_eur)
            as min_usage,
        jd.gpus * greatest(jd.duration_s, 0) / 3600.0 as expected_gpu_hours,
        jd.cpus * greatest(jd.duration_s, 0) / 3600.0 as expected_core_hours,
        abs(jd.gpu_hours - jd.gpus * greatest(jd.duration_s, 0) / 3600.0) as gpu_hours_gap,
        abs(jd.cpu_core_hours - jd.cpus * greatest(jd.duration_s, 0) / 3600.0) as core_hours_gap,
        (jd.contract_id is null) = (jd.usage_area = 'unassigned') as contract_area_consistent,
        jd.facility_energy_kwh - jd.it_energy_kwh as facility_minus_it,
        case when jd.duration_s > 0 and jd.nnodes > 0
             then jd.it_energy_kwh / (jd.duration_s / 3600.0) / jd.nnodes end as avg_kw_per_node,
        {limit_sql} as node_kw_limit
    from jd left join keys using (job_key)
    order by jd.day, jd.start_at, jd.job_key
    """
    return con.execute(sql, {"lo": scope.utc_start, "hi": scope.utc_end}).df()


def build_suite():
    import great_expectations as gx

    E = gx.expectations
    return make_suite(SUITE, SEVERITY, EXAMPLES, [
        ("job_usage_key_unique", E.ExpectColumnValuesToBeBetween(column="key_rows", min_value=1, max_value=1)),
        ("job_usage_nonnegative", E.ExpectColumnValuesToBeBetween(column="min_usage", min_value=0)),
        ("job_usage_end_after_start", E.ExpectColumnValuesToBeBetween(column="duration_s", min_value=0)),
        ("job_usage_gpu_hours", E.ExpectColumnValuesToBeBetween(column="gpu_hours_gap", min_value=0, max_value=HOURS_TOLERANCE)),
        ("job_usage_core_hours", E.ExpectColumnValuesToBeBetween(column="core_hours_gap", min_value=0, max_value=HOURS_TOLERANCE)),
        ("job_usage_area_known", E.ExpectColumnValuesToBeInSet(column="usage_area_or_none", value_set=list(USAGE_AREAS))),
        ("job_usage_contract_area",
         E.ExpectColumnValuesToBeInSet(column="contract_area_consistent", value_set=[True])),
        ("job_usage_facility_ge_it", E.ExpectColumnValuesToBeBetween(column="facility_minus_it", min_value=-1e-9)),
        ("job_usage_power_plausible",
         E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="node_kw_limit", column_B="avg_kw_per_node",
                                                   or_equal=True, ignore_row_if="either_value_is_missing")),
    ])
