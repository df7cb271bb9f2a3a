{{
    config(
        materialized='incremental',
        unique_key='day',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        pre_hook="{{ delete_days_without_usage() }}"
    )
}}

-- Usage per local day, contract and usage area, from int_job_days_accounted. Unassigned work
-- is kept as its own group (contract_id null, usage_area 'unassigned'). Incremental by day:
-- every day on which any group differs from the stored rows is replaced whole.

with

job_days as (

    select * from {{ ref('int_job_days_accounted') }}

),

final as (

    select
        cast(day as varchar) || '|' || coalesce(contract_id, '-') || '|' || usage_area as usage_daily_key,
        day,
        contract_id,
        partner_id,
        usage_area,
        count(distinct job_key) filter (where is_start_day) as jobs_started,
        count(distinct job_key) as jobs_active,
        count(distinct user_pseudonym) as users_active,
        sum(gpu_hours) as gpu_hours,
        sum(cpu_core_hours) as cpu_core_hours,
        sum(it_energy_kwh) as it_energy_kwh,
        sum(measured_kwh) as measured_kwh,
        sum(interpolated_kwh) as interpolated_kwh,
        sum(estimated_kwh) as estimated_kwh,
        sum(facility_energy_kwh) as facility_energy_kwh,
        sum(co2e_kg) as co2e_kg,
        sum(co2e_market_kg) as co2e_market_kg,
        sum(cost_eur) as cost_eur,
        sum(compute_value_eur) as compute_value_eur,
        sum(subsidy_eur) as subsidy_eur,
        coalesce(sum(gpu_hours) filter (where is_economic_use), 0) as economic_use_gpu_hours,
        sum(busy_gpu_hours) as busy_gpu_hours

    from job_days
    group by day, contract_id, partner_id, usage_area

)

{% if is_incremental() %}
, changed_days as (

    select day from (select * from final except select * from {{ this }}) as added
    union
    select day from (select * from {{ this }} except select * from final) as removed

)

select * from final
where day in (select day from changed_days)
{% else %}
select * from final
{% endif %}
