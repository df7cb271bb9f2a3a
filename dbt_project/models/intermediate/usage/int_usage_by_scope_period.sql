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

-- sums per scope, area and day first, then per period: the period join runs on days, not rows;
-- a job starts on one day, so its start counts once however its days are summed
day_sums as (

    select
        scope_key,
        kpi_area,
        day,
        sum(gpu_hours) as gpu_hours,
        sum(busy_gpu_hours) as busy_gpu_hours,
        sum(gpu_hours) filter (where busy_gpu_hours is not null) as measured_gpu_hours,
        sum(cpu_core_hours) as cpu_core_hours,
        count(distinct job_key) filter (where is_start_day) as jobs,
        sum(gpu_hours) filter (where is_partner_usage and is_revier) as revier_gpu_hours,
        sum(gpu_hours) filter (where is_company) as company_gpu_hours,
        sum(gpu_hours) filter (where is_economic_use) as economic_use_gpu_hours,
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
    from by_area
    group by scope_key, kpi_area, day

),

period_sums as (

    select
        day_sums.scope_key,
        periods.period_type,
        periods.period,
        day_sums.kpi_area,
        sum(day_sums.gpu_hours) as gpu_hours,
        sum(day_sums.busy_gpu_hours) as busy_gpu_hours,
        sum(day_sums.measured_gpu_hours) as measured_gpu_hours,
        sum(day_sums.cpu_core_hours) as cpu_core_hours,
        cast(sum(day_sums.jobs) as bigint) as jobs,
        coalesce(sum(day_sums.revier_gpu_hours), 0) as revier_gpu_hours,
        coalesce(sum(day_sums.company_gpu_hours), 0) as company_gpu_hours,
        coalesce(sum(day_sums.economic_use_gpu_hours), 0) as economic_use_gpu_hours,
        sum(day_sums.cost_eur) as cost_eur,
        sum(day_sums.compute_value_eur) as compute_value_eur,
        sum(day_sums.subsidy_eur) as subsidy_eur,
        sum(day_sums.it_energy_kwh) as it_energy_kwh,
        sum(day_sums.measured_kwh) as measured_kwh,
        sum(day_sums.interpolated_kwh) as interpolated_kwh,
        sum(day_sums.estimated_kwh) as estimated_kwh,
        sum(day_sums.facility_energy_kwh) as facility_energy_kwh,
        sum(day_sums.co2e_kg) as co2e_kg,
        sum(day_sums.co2e_market_kg) as co2e_market_kg
    from day_sums
    inner join periods
        on day_sums.day = periods.day
    group by day_sums.scope_key, periods.period_type, periods.period, day_sums.kpi_area

),

-- distinct counts from the distinct users and partners of each scope, area and day
user_days as (

    select distinct scope_key, kpi_area, day, user_pseudonym, usage_area = 'education' as is_education
    from by_area

),

period_users as (

    select
        user_days.scope_key,
        periods.period_type,
        periods.period,
        user_days.kpi_area,
        count(distinct user_days.user_pseudonym) as active_users,
        count(distinct user_days.user_pseudonym) filter (where user_days.is_education) as trainees
    from user_days
    inner join periods
        on user_days.day = periods.day
    group by user_days.scope_key, periods.period_type, periods.period, user_days.kpi_area

),

partner_days as (

    select distinct scope_key, kpi_area, day, partner_id
    from by_area
    where is_partner_usage

),

period_partners as (

    select
        partner_days.scope_key,
        periods.period_type,
        periods.period,
        partner_days.kpi_area,
        count(distinct partner_days.partner_id) as active_partners,
        count(distinct partner_days.partner_id) filter (
            where partner_first_use.first_day between periods.period_start and periods.period_end
        ) as new_partners
    from partner_days
    inner join periods
        on partner_days.day = periods.day
    left join partner_first_use
        on partner_days.partner_id = partner_first_use.partner_id
       and partner_days.kpi_area = partner_first_use.kpi_area
    group by partner_days.scope_key, periods.period_type, periods.period, partner_days.kpi_area

),

final as (

    select
        s.scope_key || '|' || s.period_type || '|' || s.period || '|' || s.kpi_area as scope_period_key,
        s.scope_key,
        s.period_type,
        s.period,
        s.kpi_area as usage_area,
        s.gpu_hours,
        s.busy_gpu_hours,
        s.measured_gpu_hours,
        s.cpu_core_hours,
        s.jobs,
        u.active_users,
        u.trainees,
        coalesce(p.active_partners, 0) as active_partners,
        coalesce(p.new_partners, 0) as new_partners,
        s.revier_gpu_hours,
        s.company_gpu_hours,
        s.economic_use_gpu_hours,
        s.cost_eur,
        s.compute_value_eur,
        s.subsidy_eur,
        s.it_energy_kwh,
        s.measured_kwh,
        s.interpolated_kwh,
        s.estimated_kwh,
        s.facility_energy_kwh,
        s.co2e_kg,
        s.co2e_market_kg
    from period_sums as s
    inner join period_users as u
        on s.scope_key = u.scope_key and s.period_type = u.period_type and s.period = u.period
       and s.kpi_area = u.kpi_area
    left join period_partners as p
        on s.scope_key = p.scope_key and s.period_type = p.period_type and s.period = p.period
       and s.kpi_area = p.kpi_area

)

select * from final
