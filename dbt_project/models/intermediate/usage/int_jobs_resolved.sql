{{
    config(
        materialized='incremental',
        unique_key='job_key',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}

-- One row per Slurm allocation: the latest delivered version (highest ingest_id, then
-- highest line_no), with the effective usage interval [start_at, end_at).
-- Incremental: only allocations with a version delivered after the stored watermark (the
-- highest ingest_id stored) are resolved again, from all their versions.

with

jobs as (

    select * from {{ ref('stg_slurm__jobs') }}
    {% if is_incremental() %}
    where job_key in (
        select job_key from {{ ref('stg_slurm__jobs') }}
        where not is_step
          and ingest_id > (select coalesce(max(ingest_id), -1) from {{ this }})
    )
    {% endif %}

),

allocations as (

    select * from jobs
    where not is_step

),

ranked as (

    select
        *,
        row_number() over (
            partition by cluster, allocation_id
            order by ingest_id desc, line_no desc
        ) as version_rank
    from allocations

),

latest as (

    select * from ranked
    where version_rank = 1

),

final as (

    select
        job_key,
        cluster,
        allocation_id as job_id,
        account,
        user_pseudonym,
        partition,
        state,
        submit_at,
        start_at,
        -- a running job ends at start + ElapsedRaw until a later record supersedes it
        case
            when start_at is null then null
            when end_at is null or state = 'RUNNING'
                then start_at + interval '1 second' * coalesce(elapsed_s, 0)
            else end_at
        end as end_at,
        elapsed_s,
        start_at is not null and (end_at is null or state = 'RUNNING') as is_running,
        nnodes,
        ncpus,
        gpus,
        nodes,
        received_at,
        ingest_id,
        line_no

    from latest

)

select * from final
