{{ config(materialized='view') }}

-- GPU use of each started job measured two ways: from the DCGM samples of its GPUs (busy
-- GPU-hours over allocated GPU-hours, int_job_gpu_use_daily via int_job_days_accounted) and as
-- Slurm's own GPU plugin measured it (gres/gpuutil of TRESUsageInAve, kept on the steps where
-- Slurm gathers it). Slurm's figure is per step, averaged over the step's tasks: the job's is
-- the average of its steps weighted by their elapsed time, the extern step left out (it runs
-- no work and reads 0 %). The two agree where a step runs one task per GPU (or one task on
-- one GPU); the test gpu_use_sources_agree reports the jobs where they differ by more than
-- var('gpu_util_sources_tolerance_pct') points. A view: read by that test and by analysts.

with

job_days as (

    select * from {{ ref('int_job_days_accounted') }}

),

steps as (

    select * from {{ ref('stg_slurm__jobs') }}
    where is_step
      and step_id <> 'extern'
      and gpu_util_ave_pct is not null

),

dcgm as (

    select
        job_key,
        sum(gpu_hours) as gpu_hours,
        sum(busy_gpu_hours) as busy_gpu_hours,
        sum(gpu_hours) filter (where busy_gpu_hours is not null) as measured_gpu_hours,
        case
            when count(busy_gpu_hours) = 0 then 'none'
            when count(*) filter (where gpu_use_source = 'approximate') > 0 then 'approximate'
            else 'exact'
        end as gpu_use_source
    from job_days
    group by job_key

),

-- the latest delivered version of each step
latest_steps as (

    select * from steps
    qualify row_number() over (partition by job_key, step_id order by ingest_id desc, line_no desc) = 1

),

sacct as (

    select
        job_key,
        sum(gpu_util_ave_pct * elapsed_s) / sum(elapsed_s) as sacct_gpu_util_pct,
        count(*) as sacct_steps
    from latest_steps
    where elapsed_s > 0
    group by job_key

),

final as (

    select
        dcgm.job_key,
        dcgm.gpu_hours,
        dcgm.busy_gpu_hours,
        case
            when dcgm.measured_gpu_hours > 0 then 100.0 * dcgm.busy_gpu_hours / dcgm.measured_gpu_hours
        end as dcgm_gpu_used_pct,
        dcgm.gpu_use_source,
        sacct.sacct_gpu_util_pct,
        coalesce(sacct.sacct_steps, 0) as sacct_steps
    from dcgm
    left join sacct
        on dcgm.job_key = sacct.job_key

)

select * from final
