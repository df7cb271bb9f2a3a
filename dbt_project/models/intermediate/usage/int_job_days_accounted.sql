{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_recomputed_days() }}"
    )
}}

-- depends_on: {{ ref('stg_slurm__jobs') }}

-- The accounting fact: each started job on each local day with its usage, contract, energy,
-- emissions and money. Marts aggregate it by job (fct_job_usage) and by day
-- (fct_usage_daily). Incremental by local day: the days from the first one touched by new job
-- versions, changed contract matches or changed energy figures are deleted (pre-hook) and
-- appended anew; see usage_recompute_from.

{%- set recompute_from = usage_recompute_from() %}

with

usage_daily as (

    select * from {{ ref('int_job_usage_daily') }}
    where {{ usage_recompute_filter(recompute_from, 'day') }}

),

job_energy as (

    select * from {{ ref('int_job_energy_daily') }}
    where {{ usage_recompute_filter(recompute_from, 'day') }}

),

-- busy GPU-hours from the DCGM samples of the job's GPUs (none for a job-day without samples)
gpu_use as (

    select * from {{ ref('int_job_gpu_use_daily') }}
    where {{ usage_recompute_filter(recompute_from, 'day') }}

),

jobs as (

    select * from {{ ref('int_jobs_resolved') }}

),

contracted as (

    select * from {{ ref('int_jobs_contracted') }}

),

energy_daily as (

    select * from {{ ref('fct_energy_daily') }}

),

list_prices as (

    select * from {{ ref('list_prices') }}

),

-- the published CO2 factors of each year (UBA grid factor, AIB residual mix), the latest
-- published year standing in for a year not yet published
emission_factors as (

    select * from {{ ref('int_emission_factors_yearly') }}

),

-- energy rows normally match usage rows; a job-day with energy but no usage is kept so that
-- no attributed energy is lost
job_days as (

    select
        coalesce(usage_daily.job_key, job_energy.job_key) as job_key,
        coalesce(usage_daily.day, job_energy.day) as day,
        coalesce(usage_daily.seconds, 0) as seconds,
        coalesce(usage_daily.gpu_hours, 0) as gpu_hours,
        coalesce(usage_daily.cpu_core_hours, 0) as cpu_core_hours,
        coalesce(usage_daily.is_start_day, false) as is_start_day,
        job_energy.job_key is not null as has_energy_row,
        coalesce(job_energy.it_energy_kwh, 0) as it_energy_kwh,
        coalesce(job_energy.measured_kwh, 0) as measured_kwh,
        coalesce(job_energy.interpolated_kwh, 0) as interpolated_kwh,
        coalesce(job_energy.estimated_kwh, 0) as estimated_kwh,
        job_energy.coverage as energy_coverage
    from usage_daily
    full outer join job_energy
        on usage_daily.job_key = job_energy.job_key
       and usage_daily.day = job_energy.day

),

with_job as (

    select
        job_days.*,
        jobs.job_id,
        jobs.cluster,
        jobs.account,
        jobs.user_pseudonym,
        jobs.partition,
        jobs.gpus,
        jobs.ncpus,
        jobs.ingest_id as job_ingest_id,
        contracted.contract_id,
        contracted.version_no,
        contracted.contract_version_key,
        contracted.partner_id,
        contracted.partner_type,
        contracted.is_company,
        contracted.activity,
        contracted.is_economic_use,
        contracted.usage_area,
        contracted.price_eur_per_gpu_hour,
        case when jobs.gpus > 0 then 'gpu_hour' else 'core_hour' end as price_unit
    from job_days
    inner join jobs
        on job_days.job_key = jobs.job_key
       and jobs.start_at is not null
    inner join contracted
        on job_days.job_key = contracted.job_key

),

-- list price in force on the day: own partition before '*', latest valid_from first
priced as (

    select
        with_job.job_key,
        with_job.day,
        list_prices.eur_per_unit as list_price_eur,
        row_number() over (
            partition by with_job.job_key, with_job.day
            order by
                case when list_prices.partition = with_job.partition then 0 else 1 end,
                list_prices.valid_from desc
        ) as price_rank
    from with_job
    inner join list_prices
        on list_prices.unit = with_job.price_unit
       and list_prices.valid_from <= with_job.day
       and (list_prices.partition = with_job.partition or list_prices.partition = '*')

),

money as (

    select
        with_job.*,
        priced.list_price_eur,
        -- the contract price is per GPU-hour: CPU-only work is not charged
        with_job.gpu_hours * coalesce(with_job.price_eur_per_gpu_hour, 0) as cost_eur,
        case
            when with_job.price_unit = 'gpu_hour' then with_job.gpu_hours
            else with_job.cpu_core_hours
        end * coalesce(priced.list_price_eur, 0) as compute_value_eur
    from with_job
    left join priced
        on with_job.job_key = priced.job_key
       and with_job.day = priced.day
       and priced.price_rank = 1

),

with_energy as (

    select
        money.*,
        energy_daily.pue,
        {{ renewable_share_expr('energy_daily') }} as renewable_share,
        emission_factors.grid_g_co2_per_kwh as grid_g_co2e_per_kwh,
        emission_factors.residual_g_co2_per_kwh as residual_g_co2e_per_kwh,
        gpu_use.busy_gpu_hours,
        gpu_use.gpu_use_source
    from money
    left join energy_daily
        on money.day = energy_daily.day
    left join emission_factors
        on year(money.day) = emission_factors.year
    left join gpu_use
        on money.job_key = gpu_use.job_key
       and money.day = gpu_use.day

),

final as (

    select
        job_key,
        day,
        job_id,
        cluster,
        account,
        user_pseudonym,
        partition,
        gpus,
        ncpus,
        seconds,
        gpu_hours,
        cpu_core_hours,
        busy_gpu_hours,
        gpu_use_source,
        is_start_day,
        contract_id,
        version_no,
        contract_version_key,
        partner_id,
        partner_type,
        is_company,
        activity,
        usage_area,
        price_eur_per_gpu_hour,
        price_unit,
        list_price_eur,
        cost_eur,
        compute_value_eur,
        -- a subsidy is what a partner receives below list price; no partner, no subsidy
        case
            when contract_id is not null and usage_area <> 'operations'
                then greatest(compute_value_eur - cost_eur, 0)
            else 0
        end as subsidy_eur,
        -- economic activity is decided by the contract (int_jobs_contracted), never by the price
        coalesce(is_economic_use, false) as is_economic_use,
        has_energy_row,
        it_energy_kwh,
        measured_kwh,
        interpolated_kwh,
        estimated_kwh,
        energy_coverage,
        pue,
        it_energy_kwh * pue as facility_energy_kwh,
        renewable_share,
        grid_g_co2e_per_kwh,
        it_energy_kwh * pue * grid_g_co2e_per_kwh / 1000.0 as co2e_kg,
        residual_g_co2e_per_kwh,
        it_energy_kwh * pue * (1 - renewable_share) * residual_g_co2e_per_kwh / 1000.0 as co2e_market_kg,
        job_ingest_id

    from with_energy

)

select * from final
