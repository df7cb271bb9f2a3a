{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ gpu_delete_window() }}"
    )
}}

-- Busy GPU-hours of each started job on each local day, from the DCGM utilisation of the GPUs
-- it held. Each utilisation sample holds from its instant until the next sample of the same
-- GPU (whatever its job label), for at most 5 typical intervals (the GPU's median gap within
-- the UTC day, var('gpu_fallback_interval_s') for a GPU-day with a single sample); a sample
-- without a successor holds one typical interval. A hold crossing local midnight is split.
-- Busy seconds = utilisation (clamped to 0..100 %) x the hold's overlap with the job's
-- interval on the node and day.
--   exact: samples labelled hpc_job = the job's id (JobIDRaw, or the allocation id as Slurm
--     prints it): on that node and day the job takes exactly the GPUs mapped to it;
--   approximate: on a node and day where the job has no such samples, the node's unlabelled
--     samples are shared among the jobs there that have none either: each hold by
--     w = the job's GPUs on the node x its overlap with the hold (over the sum of w), times the
--     part of the hold any of them covers (at most the hold): the energy attribution's rule.
-- A job-day's busy GPU-hours never exceed its allocated GPU-hours. A job-day without samples
-- has no row. Incremental by local day: see the macro gpu_window.

{%- set window = gpu_window() %}
{%- set fallback_us = (var('gpu_fallback_interval_s') | int) * 1000000 %}

with

samples as (

    select
        node,
        gpu_index,
        sample_at,
        hpc_job,
        util_pct,
        ingest_id,
        line_no
    from {{ ref('stg_gpu__samples') }}
    where util_pct is not null
      -- the UTC day before the window (samples held into it, the typical interval of their
      -- day) to two UTC days after it (the successors of its last samples)
      and {{ energy_near_window(window, 'sample_at', 1, 2) }}

),

allocations as (

    select * from {{ ref('int_job_node_allocations') }}
    where weight_unit = 'gpu' and gpus_on_node > 0

),

slurm_records as (

    select * from {{ ref('stg_slurm__jobs') }}
    where not is_step

),

-- one utilisation per GPU, job label and instant: the latest delivery (the highest ingest id,
-- then line; an aggregate, cheaper here than a window over every sample)
readings as (

    select
        node,
        gpu_index,
        epoch_us(sample_at) as sample_us,
        hpc_job,
        greatest(0.0, least(arg_max(util_pct, ingest_id * 4294967296 + coalesce(line_no, 0)), 100.0)) as util_pct,
        max(ingest_id) as ingest_id
    from samples
    group by node, gpu_index, sample_at, hpc_job

),

successors as (

    select
        node,
        gpu_index,
        sample_us,
        lead(sample_us) over (partition by node, gpu_index order by sample_us) as next_us,
        sample_us // 86400000000 as utc_day_no
    from (select distinct node, gpu_index, sample_us from readings) as instants

),

typical as (

    select
        node,
        gpu_index,
        utc_day_no,
        coalesce(
            cast(round(median(next_us - sample_us) filter (where next_us // 86400000000 = utc_day_no)) as bigint),
            {{ fallback_us }}
        ) as interval_us
    from successors
    group by node, gpu_index, utc_day_no

),

holds as (

    select
        successors.node,
        successors.gpu_index,
        successors.sample_us,
        successors.sample_us + least(
            coalesce(successors.next_us - successors.sample_us, typical.interval_us),
            5 * typical.interval_us
        ) as hold_to_us
    from successors
    inner join typical
        on successors.node = typical.node
       and successors.gpu_index = typical.gpu_index
       and successors.utc_day_no = typical.utc_day_no

),

hold_minutes as (

    select sample_us // 60000000 as minute_no from holds
    union all
    select (hold_to_us - 1) // 60000000 from holds

),

-- the local day of each UTC quarter-hour (offsets are whole quarter-hours): one time zone
-- conversion per quarter-hour, not two per sample
day_map as (

    {{ quarter_hour_days('hold_minutes') }}

),

hold_days as (

    select
        holds.node,
        holds.gpu_index,
        holds.sample_us,
        make_timestamptz(holds.sample_us) as hold_from,
        make_timestamptz(holds.hold_to_us) as hold_to,
        first_map.day as first_day,
        last_map.day as last_day
    from holds
    inner join day_map as first_map
        on holds.sample_us // 900000000 = first_map.quarter_no
    inner join day_map as last_map
        on (holds.hold_to_us - 1) // 900000000 = last_map.quarter_no

),

-- each hold within one local day; the few crossing midnight split at it
pieces as (

    select node, gpu_index, sample_us, first_day as day, hold_from as piece_from, hold_to as piece_to
    from hold_days
    where first_day = last_day

    union all

    select
        node,
        gpu_index,
        sample_us,
        cast(spine.day_ts as date) as day,
        greatest(hold_from, {{ local_day_start('cast(spine.day_ts as date)') }}) as piece_from,
        least(hold_to, {{ local_day_end('cast(spine.day_ts as date)') }}) as piece_to
    from hold_days,
        generate_series(cast(first_day as timestamp), cast(last_day as timestamp), interval '1 day') as spine(day_ts)
    where first_day < last_day

),

held as (

    select
        pieces.node,
        pieces.gpu_index,
        pieces.sample_us,
        pieces.day,
        pieces.piece_from,
        pieces.piece_to,
        {{ seconds_between('pieces.piece_from', 'pieces.piece_to') }} as piece_s,
        readings.hpc_job,
        readings.util_pct,
        readings.ingest_id
    from pieces
    inner join readings
        on pieces.node = readings.node
       and pieces.gpu_index = readings.gpu_index
       and pieces.sample_us = readings.sample_us
    where {{ energy_in_window(window, 'pieces.day') }}

),

-- each started GPU job on each of its nodes and local days: [from_at, to_at)
job_node_days as (

    select
        spans.job_key,
        spans.node,
        spans.gpus_on_node,
        spans.job_ingest_id,
        cast(spine.day_ts as date) as day,
        greatest(spans.start_at, {{ local_day_start('cast(spine.day_ts as date)') }}) as from_at,
        least(spans.end_at, {{ local_day_end('cast(spine.day_ts as date)') }}) as to_at
    from (
        select
            *,
            {{ local_date('start_at') }} as first_day,
            {{ local_date("greatest(start_at, end_at - interval '1 microsecond')") }} as last_day
        from allocations
    ) as spans,
        generate_series(cast(spans.first_day as timestamp), cast(spans.last_day as timestamp), interval '1 day')
            as spine(day_ts)

),

bounded as (

    select * from job_node_days
    where {{ energy_in_window(window, 'day') }}
      and to_at > from_at

),

-- the ids a DCGM job label may carry for each job: JobIDRaw (SLURM_JOB_ID) or the allocation id
job_ids as (

    select distinct job_key, job_id_raw as hpc_job from slurm_records
    where job_id_raw is not null and job_key in (select job_key from bounded)

    union

    select distinct job_key, allocation_id from slurm_records
    where job_key in (select job_key from bounded)

),

exact as (

    select
        bounded.job_key,
        bounded.node,
        bounded.day,
        sum(
            held.util_pct
            * {{ seconds_between('greatest(held.piece_from, bounded.from_at)', 'least(held.piece_to, bounded.to_at)') }}
            / 100.0
        ) as busy_s,
        max(held.ingest_id) as gpu_ingest_id
    from held
    inner join job_ids
        on held.hpc_job = job_ids.hpc_job
    inner join bounded
        on job_ids.job_key = bounded.job_key
       and held.node = bounded.node
       and held.day = bounded.day
       and held.piece_from < bounded.to_at
       and held.piece_to > bounded.from_at
    group by bounded.job_key, bounded.node, bounded.day

),

-- the jobs of a node and day without samples of their own share its unlabelled samples
pool as (

    select bounded.*
    from bounded
    anti join exact
        on bounded.job_key = exact.job_key
       and bounded.node = exact.node
       and bounded.day = exact.day

),

shared as (

    select
        held.node,
        held.gpu_index,
        held.sample_us,
        held.day,
        held.piece_s,
        held.util_pct,
        held.ingest_id,
        pool.job_key,
        pool.gpus_on_node,
        {{ seconds_between('greatest(held.piece_from, pool.from_at)', 'least(held.piece_to, pool.to_at)') }}
            as overlap_s
    from held
    inner join pool
        on held.node = pool.node
       and held.day = pool.day
       and held.piece_from < pool.to_at
       and held.piece_to > pool.from_at
    where held.hpc_job is null

),

weighted as (

    select
        *,
        sum(gpus_on_node * overlap_s) over piece as total_w,
        sum(overlap_s) over piece as total_s
    from shared
    window piece as (partition by node, gpu_index, sample_us, day)

),

approximate as (

    select
        job_key,
        node,
        day,
        sum(util_pct * least(piece_s, total_s) * gpus_on_node * overlap_s / total_w / 100.0) as busy_s,
        max(ingest_id) as gpu_ingest_id
    from weighted
    where total_w > 0
    group by job_key, node, day

),

node_days as (

    select job_key, node, day, busy_s, gpu_ingest_id, true as is_exact from exact
    union all
    select job_key, node, day, busy_s, gpu_ingest_id, false as is_exact from approximate

),

allocated as (

    select
        job_key,
        day,
        sum(gpus_on_node * {{ seconds_between('from_at', 'to_at') }}) as allocated_gpu_s,
        max(job_ingest_id) as job_ingest_id
    from bounded
    group by job_key, day

),

final as (

    select
        node_days.job_key,
        node_days.day,
        least(sum(node_days.busy_s), any_value(allocated.allocated_gpu_s)) / 3600.0 as busy_gpu_hours,
        case when bool_and(node_days.is_exact) then 'exact' else 'approximate' end as gpu_use_source,
        max(node_days.gpu_ingest_id) as gpu_ingest_id,
        any_value(allocated.job_ingest_id) as job_ingest_id
    from node_days
    inner join allocated
        on node_days.job_key = allocated.job_key
       and node_days.day = allocated.day
    group by node_days.job_key, node_days.day

)

select * from final
