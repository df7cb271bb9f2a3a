{{
    config(
        materialized='incremental',
        unique_key='job_key',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        pre_hook="{{ delete_jobs_without_usage() }}"
    )
}}

-- One row per Slurm allocation that started: its usage, contract, energy, emissions and money,
-- summed over its local days from int_job_days_accounted. Incremental by job: only jobs whose
-- row differs from the stored one are replaced (int_job_days_accounted does the heavy,
-- day-windowed recomputation).

with

jobs as (

    select * from {{ ref('int_jobs_resolved') }}
    where start_at is not null

),

contracted as (

    select * from {{ ref('int_jobs_contracted') }}

),

job_days as (

    select * from {{ ref('int_job_days_accounted') }}

),

per_job as (

    select
        job_key,
        sum(seconds) as seconds,
        sum(gpu_hours) as gpu_hours,
        sum(cpu_core_hours) as cpu_core_hours,
        count(*) filter (where has_energy_row) as energy_days,
        sum(it_energy_kwh) as it_energy_kwh,
        sum(measured_kwh) as measured_kwh,
        sum(interpolated_kwh) as interpolated_kwh,
        sum(estimated_kwh) as estimated_kwh,
        sum(energy_coverage * seconds) filter (where has_energy_row) as covered_seconds,
        sum(seconds) filter (where has_energy_row) as energy_seconds,
        sum(facility_energy_kwh) as facility_energy_kwh,
        count(*) filter (where pue is null and it_energy_kwh > 0) as days_without_pue,
        sum(co2e_kg) as co2e_kg,
        sum(co2e_market_kg) as co2e_market_kg,
        sum(cost_eur) as cost_eur,
        sum(compute_value_eur) as compute_value_eur,
        sum(subsidy_eur) as subsidy_eur,
        sum(gpu_hours) filter (where is_economic_use) as economic_use_gpu_hours,
        sum(busy_gpu_hours) as busy_gpu_hours,
        -- the GPU-hours whose use was measured: of the days with GPU samples
        sum(gpu_hours) filter (where busy_gpu_hours is not null) as measured_gpu_hours,
        count(*) filter (where gpu_use_source = 'approximate') as approximate_gpu_days
    from job_days
    group by job_key

),

final as (

    select
        jobs.job_key,
        jobs.job_id,
        jobs.cluster,
        jobs.account,
        jobs.user_pseudonym,
        jobs.partition,
        jobs.state,
        jobs.submit_at,
        jobs.start_at,
        jobs.end_at,
        jobs.is_running,
        jobs.elapsed_s,
        {{ local_date('jobs.start_at') }} as start_day,
        jobs.nnodes,
        jobs.gpus,
        jobs.ncpus as cpus,
        coalesce(per_job.gpu_hours, 0) as gpu_hours,
        coalesce(per_job.cpu_core_hours, 0) as cpu_core_hours,
        coalesce(per_job.it_energy_kwh, 0) as it_energy_kwh,
        coalesce(per_job.measured_kwh, 0) as measured_kwh,
        coalesce(per_job.interpolated_kwh, 0) as interpolated_kwh,
        coalesce(per_job.estimated_kwh, 0) as estimated_kwh,
        case
            when coalesce(per_job.energy_days, 0) = 0 then 'missing'
            when per_job.interpolated_kwh + per_job.estimated_kwh <= 1e-12 then 'measured'
            when per_job.measured_kwh + per_job.interpolated_kwh <= 1e-12 then 'estimated'
            else 'interpolated'
        end as energy_quality,
        case
            when coalesce(per_job.energy_seconds, 0) > 0
                then per_job.covered_seconds / per_job.energy_seconds
            when coalesce(per_job.energy_days, 0) > 0 then 1.0
            else 0.0
        end as energy_coverage,
        per_job.facility_energy_kwh,
        coalesce(per_job.days_without_pue, 0) = 0 as is_facility_energy_complete,
        per_job.co2e_kg,
        per_job.co2e_market_kg,
        contracted.contract_id,
        contracted.version_no,
        contracted.partner_id,
        contracted.usage_area,
        coalesce(per_job.cost_eur, 0) as cost_eur,
        coalesce(per_job.compute_value_eur, 0) as compute_value_eur,
        coalesce(per_job.subsidy_eur, 0) as subsidy_eur,
        coalesce(per_job.economic_use_gpu_hours, 0) as economic_use_gpu_hours,
        per_job.busy_gpu_hours,
        case
            when per_job.measured_gpu_hours > 0
                then 100.0 * per_job.busy_gpu_hours / per_job.measured_gpu_hours
        end as gpu_used_pct,
        case
            when per_job.busy_gpu_hours is null then 'none'
            when per_job.approximate_gpu_days > 0 then 'approximate'
            else 'exact'
        end as gpu_use_source,
        jobs.ingest_id as job_ingest_id,
        contracted.contract_ingest_id

    from jobs
    inner join contracted
        on jobs.job_key = contracted.job_key
    left join per_job
        on jobs.job_key = per_job.job_key

)

{% if is_incremental() %}
, changed as (

    select * from final
    except
    select * from {{ this }}

)

select * from changed
{% else %}
select * from final
{% endif %}
