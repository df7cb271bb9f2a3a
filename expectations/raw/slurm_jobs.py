"""Suite raw.slurm_jobs: Slurm accounting records (allocations and steps, every delivered version).

Batch: the records of a chunk of local days (a record's day is that of its start, else its
submission, end or delivery), joined with the latest node inventory (installed GPUs, known
nodes), the contracts (is the account covered at job start?) and the other delivered versions
of the same allocation.
"""

from __future__ import annotations

from kirz.validation import FUTURE_TOLERANCE_S, make_suite

SUITE = "raw.slurm_jobs"
TABLE = "raw.slurm_jobs"
GRAIN = "day"
REQUIRES = ("raw.slurm_jobs", "raw.inventory_nodes", "raw.contract_versions")

# Job states as sacct prints them (Slurm's JOB STATE CODES plus the transitional states).
SLURM_STATES = (
    "BOOT_FAIL", "CANCELLED", "COMPLETED", "COMPLETING", "CONFIGURING", "DEADLINE", "FAILED",
    "NODE_FAIL", "OUT_OF_MEMORY", "PENDING", "PREEMPTED", "RESIZING", "REQUEUED", "REQUEUE_FED",
    "REQUEUE_HOLD", "RESV_DEL_HOLD", "REVOKED", "RUNNING", "SIGNALING", "SPECIAL_EXIT",
    "STAGE_OUT", "STOPPED", "SUSPENDED", "TIMEOUT",
)
# States after which a record is final: two final versions of one allocation must agree.
ENDED_STATES = (
    "BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY",
    "PREEMPTED", "TIMEOUT",
)
ELAPSED_TOLERANCE_S = 60

SEVERITY = {
    "jobs_allocation_id_present": ("critical", "Every accounting record names the job it belongs to."),
    "jobs_end_after_start": ("critical", "No job ends before it starts."),
    "jobs_elapsed_consistent": (
        "critical",
        "A finished job's recorded run time matches its start and end (a mismatch means a clock or time-zone error).",
    ),
    "jobs_gpus_within_installed": (
        "critical", "No job uses more GPUs than are installed in the nodes it ran on.",
    ),
    "jobs_nodes_in_inventory": ("critical", "Every node a job ran on is listed in the centre's inventory."),
    "jobs_resources_nonnegative": ("critical", "GPU, CPU, node counts and run times are never negative."),
    "jobs_times_before_delivery": (
        "critical", "No job time lies after the moment its accounting file was delivered.",
    ),
    "jobs_node_count_matches": (
        "warning", "A started job's node count matches the list of nodes it ran on.",
    ),
    "jobs_state_known": ("warning", "Every job state is one Slurm defines."),
    "jobs_account_covered": (
        "warning", "Every account that used the centre is covered by a partner contract when the job started.",
    ),
    "jobs_start_after_submit": ("warning", "No job starts before it was submitted."),
    "jobs_no_conflicting_versions": (
        "warning", "Re-delivered final records of the same job agree on times, account and GPUs.",
    ),
}

EXAMPLES = {
    "jobs_allocation_id_present": ["job_id", "line_no", "source_file"],
    "jobs_end_after_start": ["job_id", "start_at", "end_at"],
    "jobs_elapsed_consistent": ["job_id", "start_at", "end_at", "elapsed_s", "elapsed_gap_s"],
    "jobs_gpus_within_installed": ["job_id", "node_list", "gpus", "installed_gpus"],
    "jobs_nodes_in_inventory": ["job_id", "node_list", "unknown_nodes"],
    "jobs_resources_nonnegative": ["job_id", "gpus", "ncpus", "nnodes", "elapsed_s"],
    "jobs_times_before_delivery": ["job_id", "start_at", "end_at", "received_at", "ahead_of_delivery_s"],
    "jobs_node_count_matches": ["job_id", "nnodes", "node_list", "nodes_listed"],
    "jobs_state_known": ["job_id", "state"],
    "jobs_account_covered": ["account"],
    "jobs_start_after_submit": ["job_id", "submit_at", "start_at"],
    "jobs_no_conflicting_versions": ["allocation_id", "final_versions"],
}


def _in(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


def load_frame(con, scope):
    anchor = "coalesce(start_at, submit_at, end_at, received_at)"
    sql = f"""
    with inv as (
        select node, max(gpus) as gpus from raw.inventory_nodes
        where ingest_id = (select max(ingest_id) from raw.inventory_nodes)
        group by node
    ),
    cv as (
        select v.contract_id, v.accounts, v.effective_from, coalesce(v.effective_to, date '9999-12-31') as effective_to
        from raw.contract_versions v
        join (select contract_id, max(ingest_id) as ingest_id from raw.contract_versions group by contract_id) l
          using (contract_id, ingest_id)
    ),
    j as (
        select rowid as rid, *, {scope.local_day(anchor)} as day
        from raw.slurm_jobs
        where {anchor} >= $lo and {anchor} < $hi
    ),
    jd as (
        select * from j where day in (select day from dq_days)
    ),
    alloc as (
        select * from jd where not coalesce(is_step, false)
    ),
    jn as (
        select rid, unnest(nodes) as node from alloc
    ),
    ng as (
        select jn.rid, count(*) as nodes_listed, count(*) filter (where inv.node is null) as unknown_nodes,
               case when count(*) filter (where inv.node is null) = 0 then sum(inv.gpus) end as installed_gpus
        from jn left join inv using (node)
        group by jn.rid
    ),
    cov as (
        select a.rid, bool_or(cv.contract_id is not null) as covered
        from alloc a
        left join cv
          on list_contains(cv.accounts, a.account)
         and {scope.local_day('a.start_at')} between cv.effective_from and cv.effective_to
        where a.start_at is not null
        group by a.rid
    ),
    vers as (
        select cluster, allocation_id,
               count(distinct concat_ws('|', cast(start_at as varchar), cast(end_at as varchar), account,
                                        cast(gpus as varchar), cast(nnodes as varchar)))
                   filter (where state in ({_in(ENDED_STATES)})) as final_versions
        from raw.slurm_jobs
        where not coalesce(is_step, false)
          and allocation_id in (select allocation_id from alloc)
        group by cluster, allocation_id
    )
    select
        jd.rid, jd.day as period_start, jd.day as period_end,
        jd.job_id, jd.allocation_id, coalesce(jd.is_step, false) as is_step, jd.state, jd.account,
        jd.submit_at, jd.start_at, jd.end_at, jd.elapsed_s, jd.gpus, jd.ncpus, jd.nnodes, jd.node_list,
        jd.received_at, jd.source_file, jd.line_no,
        epoch(jd.end_at) - epoch(jd.start_at) as end_minus_start_s,
        case when jd.start_at is not null and jd.end_at is not null and jd.elapsed_s is not null
                  and coalesce(jd.state, '') not in ('RUNNING', 'PENDING', 'SUSPENDED')
             then abs(epoch(jd.end_at) - epoch(jd.start_at) - jd.elapsed_s) end as elapsed_gap_s,
        least(jd.gpus, jd.ncpus, jd.nnodes, jd.elapsed_s) as min_resource,
        greatest(epoch(jd.submit_at), epoch(jd.start_at), epoch(jd.end_at)) - epoch(jd.received_at)
            as ahead_of_delivery_s,
        epoch(jd.start_at) - epoch(jd.submit_at) as start_minus_submit_s,
        case when not coalesce(jd.is_step, false) and len(coalesce(jd.nodes, [])) > 0
             then ng.installed_gpus end as installed_gpus,
        case when not coalesce(jd.is_step, false) and len(coalesce(jd.nodes, [])) > 0
             then ng.unknown_nodes end as unknown_nodes,
        case when not coalesce(jd.is_step, false) then coalesce(ng.nodes_listed, 0) end as nodes_listed,
        case when not coalesce(jd.is_step, false) and jd.start_at is not null and jd.nnodes is not null
             then abs(coalesce(ng.nodes_listed, 0) - jd.nnodes) end as node_count_gap,
        case when not coalesce(jd.is_step, false) and jd.start_at is not null
             then coalesce(cov.covered, false) end as account_covered,
        case when not coalesce(jd.is_step, false) then coalesce(vers.final_versions, 0) end as final_versions
    from jd
    left join ng using (rid)
    left join cov using (rid)
    left join vers on vers.cluster is not distinct from jd.cluster and vers.allocation_id = jd.allocation_id
    order by jd.day, jd.rid
    """
    return con.execute(sql, {"lo": scope.utc_start, "hi": scope.utc_end}).df()


def build_suite():
    import great_expectations as gx

    E = gx.expectations
    return make_suite(SUITE, SEVERITY, EXAMPLES, [
        ("jobs_allocation_id_present", E.ExpectColumnValuesToNotBeNull(column="allocation_id")),
        ("jobs_end_after_start", E.ExpectColumnValuesToBeBetween(column="end_minus_start_s", min_value=0)),
        ("jobs_elapsed_consistent",
         E.ExpectColumnValuesToBeBetween(column="elapsed_gap_s", min_value=0, max_value=ELAPSED_TOLERANCE_S)),
        ("jobs_gpus_within_installed",
         E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="installed_gpus", column_B="gpus", or_equal=True,
                                                   ignore_row_if="either_value_is_missing")),
        ("jobs_nodes_in_inventory", E.ExpectColumnValuesToBeBetween(column="unknown_nodes", min_value=0, max_value=0)),
        ("jobs_resources_nonnegative", E.ExpectColumnValuesToBeBetween(column="min_resource", min_value=0)),
        ("jobs_times_before_delivery",
         E.ExpectColumnValuesToBeBetween(column="ahead_of_delivery_s", max_value=FUTURE_TOLERANCE_S)),
        ("jobs_node_count_matches", E.ExpectColumnValuesToBeBetween(column="node_count_gap", min_value=0, max_value=0)),
        ("jobs_state_known", E.ExpectColumnValuesToBeInSet(column="state", value_set=list(SLURM_STATES))),
        ("jobs_account_covered", E.ExpectColumnValuesToBeInSet(column="account_covered", value_set=[True])),
        ("jobs_start_after_submit", E.ExpectColumnValuesToBeBetween(column="start_minus_submit_s", min_value=0)),
        ("jobs_no_conflicting_versions",
         E.ExpectColumnValuesToBeBetween(column="final_versions", min_value=0, max_value=1)),
    ])

