{{
    config(
        materialized='incremental',
        unique_key='job_key',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        pre_hook="{{ delete_jobs_without_usage() }}"
    )
}}

-- Usage of each started allocation split at local day boundaries by overlap of
-- [start_at, end_at). Incremental by job: a job is recomputed whole (all its days replaced)
-- when a newer version of it was ingested than any stored here.

with

jobs as (

    select * from {{ ref('int_jobs_resolved') }}

),

changed_jobs as (

    select
        job_key,
        start_at,
        greatest(end_at, start_at) as end_at,
        gpus,
        ncpus,
        ingest_id
    from jobs
    where start_at is not null
    {% if is_incremental() %}
      and ingest_id > {{ stored_watermark('job_ingest_id') }}
    {% endif %}

),

day_ranges as (

    select
        *,
        {{ local_date('start_at') }} as first_day,
        -- the interval is half-open: a job ending exactly at midnight has no second of the next day
        {{ local_date("greatest(start_at, end_at - interval '1 microsecond')") }} as last_day
    from changed_jobs

),

job_days as (

    select
        day_ranges.*,
        cast(spine.day_ts as date) as day
    from day_ranges,
        generate_series(
            cast(day_ranges.first_day as timestamp),
            cast(day_ranges.last_day as timestamp),
            interval '1 day'
        ) as spine(day_ts)

),

bounded as (

    select
        *,
        {{ local_day_start('day') }} as day_start_at,
        {{ local_day_end('day') }} as day_end_at
    from job_days

),

final as (

    select
        job_key,
        day,
        day_start_at,
        day_end_at,
        {{ seconds_between('greatest(start_at, day_start_at)', 'least(end_at, day_end_at)') }} as seconds,
        gpus,
        ncpus,
        gpus * {{ seconds_between('greatest(start_at, day_start_at)', 'least(end_at, day_end_at)') }} / 3600.0
            as gpu_hours,
        ncpus * {{ seconds_between('greatest(start_at, day_start_at)', 'least(end_at, day_end_at)') }} / 3600.0
            as cpu_core_hours,
        day = first_day as is_start_day,
        ingest_id as job_ingest_id

    from bounded

)

select * from final
