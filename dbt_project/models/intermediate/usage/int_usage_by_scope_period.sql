-- Usage figures per report scope, period and usage area, with one definition of each count:
-- the whole centre (scope 'all'), each funder ('funder:<id>', the contracts it co-funds) and
-- each partner ('partner:<id>'). Distinct counts (users, partners) cannot be added across
-- contracts, so they are counted here for every scope a report reads.
--
-- Active partner: a partner (other than operations) with a job running in the period.
-- New partner: an active partner whose first day of use (in that usage area, or anywhere for
-- 'all') falls in the period. Trainee: a distinct user of an education contract.

with

job_days as (

    select * from {{ ref('int_job_days_accounted') }}

),

periods as (

    select * from {{ ref('int_calendar_periods') }}

),

contracts as (

    select * from {{ ref('dim_contract') }}

),

partners as (

    select * from {{ ref('dim_partner') }}

),

facts as (

    select
        job_days.*,
        coalesce(partners.is_revier, false) as is_revier,
        job_days.partner_id is not null and job_days.usage_area <> 'operations' as is_partner_usage,
        contracts.funders
    from job_days
    left join contracts
        on job_days.contract_id = contracts.contract_id
    left join partners
        on job_days.partner_id = partners.partner_id

),

scoped as (

    select facts.*, 'all' as scope_key from facts
    union all
    select facts.*, 'funder:' || funder.funder_id from facts, unnest(facts.funders) as funder(funder_id)
    union all
    select facts.*, 'partner:' || facts.partner_id from facts where facts.partner_id is not null

),

by_area as (

    select scoped.*, scoped.usage_area as kpi_area from scoped
    union all
    select scoped.*, 'all' from scoped

),

partner_first_use as (

    select partner_id, usage_area as kpi_area, first_day from {{ ref('int_partner_first_use') }}

),

with_periods as (

    select
        by_area.*,
        periods.period_type,
        periods.period,
        periods.period_start,
        periods.period_end,
        partner_first_use.first_day between periods.period_start and periods.period_end as is_new_partner
    from by_area
    inner join periods
        on by_area.day = periods.day
    left join partner_first_use
        on by_area.partner_id = partner_first_use.partner_id
       and by_area.kpi_area = partner_first_use.kpi_area
       and by_area.is_partner_usage

),

final as (

    select
        scope_key || '|' || period_type || '|' || period || '|' || kpi_area as scope_period_key,
        scope_key,
        period_type,
        period,
        kpi_area as usage_area,
        sum(gpu_hours) as gpu_hours,
        sum(busy_gpu_hours) as busy_gpu_hours,
        sum(gpu_hours) filter (where busy_gpu_hours is not null) as measured_gpu_hours,
        sum(cpu_core_hours) as cpu_core_hours,
        count(distinct job_key) filter (where is_start_day) as jobs,
        count(distinct user_pseudonym) as active_users,
        count(distinct user_pseudonym) filter (where usage_area = 'education') as trainees,
        count(distinct partner_id) filter (where is_partner_usage) as active_partners,
        count(distinct partner_id) filter (where is_partner_usage and is_new_partner) as new_partners,
        coalesce(sum(gpu_hours) filter (where is_partner_usage and is_revier), 0) as revier_gpu_hours,
        coalesce(sum(gpu_hours) filter (where is_company), 0) as company_gpu_hours,
        coalesce(sum(gpu_hours) filter (where is_economic_use), 0) as economic_use_gpu_hours,
        sum(cost_eur) as cost_eur,
        sum(compute_value_eur) as compute_value_eur,
        sum(subsidy_eur) as subsidy_eur,
        sum(it_energy_kwh) as it_energy_kwh,
        sum(measured_kwh) as measured_kwh,
        sum(interpolated_kwh) as interpolated_kwh,
        sum(estimated_kwh) as estimated_kwh,
        sum(facility_energy_kwh) as facility_energy_kwh,
        sum(co2e_kg) as co2e_kg,
        sum(co2e_market_kg) as co2e_market_kg

    from with_periods
    group by scope_key, period_type, period, kpi_area

)

select * from final
