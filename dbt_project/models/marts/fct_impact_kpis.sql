-- Impact KPIs per local period (month 'YYYY-MM', quarter 'YYYY-Qn', year 'YYYY') and usage
-- area ('all' = every area, technical buckets included), in long format: kpi, value, unit.
-- Periods are those overlapping the days that have usage or energy data. Usage KPIs come from
-- the job-day accounting fact, energy KPIs (usage_area 'all' only) from fct_energy_daily,
-- contract KPIs from the contract versions in force during the period. Ratios whose
-- denominator is zero are left out rather than reported as 0.

{%- set design_kw_default = 3000 %}

with

calendar as (

    select * from {{ ref('int_calendar_days') }}

),

job_days as (

    select * from {{ ref('int_job_days_accounted') }}

),

partners as (

    select * from {{ ref('dim_partner') }}

),

versions as (

    select * from {{ ref('stg_contracts__versions') }}

),

energy_daily as (

    select * from {{ ref('fct_energy_daily') }}

),

facility as (

    select * from {{ ref('stg_inventory__facility') }}

),

nodes as (

    select * from {{ ref('stg_inventory__nodes') }}

),

deminimis as (

    select * from {{ ref('int_partner_deminimis') }}

),

economic_use as (

    select * from {{ ref('int_economic_use_monthly') }}

),

usage_areas as (

    select * from {{ ref('usage_areas') }}

),

grid_factors as (

    select * from {{ ref('grid_emission_factors') }}

),

residual_factors as (

    select * from {{ ref('residual_mix_factor') }}

),

-- calendar -----------------------------------------------------------------------------

day_periods as (

    select day, month, 'month' as period_type, month_label as period, hours from calendar
    union all
    select day, month, 'quarter', quarter_label, hours from calendar
    union all
    select day, month, 'year', year_label, hours from calendar

),

data_range as (

    select min(day) as first_day, max(day) as last_day
    from (
        select day from job_days
        union all
        select day from energy_daily
    ) as data_days

),

periods as (

    select
        day_periods.period_type,
        day_periods.period,
        min(day_periods.day) as period_start,
        max(day_periods.day) as period_end,
        max(day_periods.month) as last_month,
        sum(day_periods.hours) as period_hours
    from day_periods
    group by day_periods.period_type, day_periods.period
    having min(day_periods.day) <= (select last_day from data_range)
       and max(day_periods.day) >= (select first_day from data_range)

),

areas as (

    select usage_area from usage_areas
    union all
    select 'all'

),

period_areas as (

    select periods.*, areas.usage_area
    from periods
    cross join areas

),

installed as (

    select cast(coalesce(sum(gpus), 0) as bigint) as installed_gpus
    from nodes
    where is_in_latest_delivery

),

design as (

    select coalesce(max(design_it_power_kw), {{ design_kw_default }}) as design_it_power_kw
    from facility

),

-- usage --------------------------------------------------------------------------------

facts as (

    select
        job_days.*,
        day_periods.period_type,
        day_periods.period,
        coalesce(partners.is_revier, false) as is_revier,
        partners.partner_type as partner_kind,
        partners.nuts3 as partner_nuts3,
        job_days.partner_id is not null and job_days.usage_area <> 'operations' as is_partner_usage
    from job_days
    inner join day_periods
        on job_days.day = day_periods.day
    left join partners
        on job_days.partner_id = partners.partner_id

),

facts_by_area as (

    select *, usage_area as kpi_area from facts
    union all
    select *, 'all' as kpi_area from facts

),

usage_sums as (

    select
        period_type,
        period,
        kpi_area as usage_area,
        sum(gpu_hours) as gpu_hours,
        sum(cpu_core_hours) as cpu_core_hours,
        count(distinct job_key) filter (where is_start_day) as jobs,
        count(distinct user_pseudonym) as active_users,
        count(distinct partner_id) filter (where is_partner_usage) as active_partners,
        count(distinct user_pseudonym) filter (where usage_area = 'education') as trainees,
        sum(gpu_hours) filter (where is_partner_usage and is_revier) as revier_gpu_hours,
        sum(gpu_hours) filter (where is_company) as company_gpu_hours,
        sum(compute_value_eur) as compute_value_eur,
        sum(subsidy_eur) as subsidy_eur,
        sum(cost_eur) as cost_eur,
        sum(it_energy_kwh) as job_it_energy_kwh,
        sum(measured_kwh) as job_measured_kwh,
        sum(interpolated_kwh) as job_interpolated_kwh,
        sum(estimated_kwh) as job_estimated_kwh,
        sum(facility_energy_kwh) as job_facility_energy_kwh,
        sum(co2e_kg) as co2e_kg,
        sum(co2e_market_kg) as co2e_market_kg,
        sum(gpu_hours) filter (where is_economic_use) as economic_use_gpu_hours
    from facts_by_area
    group by period_type, period, kpi_area

),

partner_first_use as (

    select partner_id, usage_area as kpi_area, min(day) as first_day
    from job_days
    where partner_id is not null and usage_area <> 'operations'
    group by partner_id, usage_area
    union all
    select partner_id, 'all', min(day)
    from job_days
    where partner_id is not null and usage_area <> 'operations'
    group by partner_id

),

new_partners as (

    select
        day_periods.period_type,
        day_periods.period,
        partner_first_use.kpi_area as usage_area,
        count(distinct partner_first_use.partner_id) as new_partners
    from partner_first_use
    inner join day_periods
        on partner_first_use.first_day = day_periods.day
    group by day_periods.period_type, day_periods.period, partner_first_use.kpi_area

),

usage_wide as (

    select
        period_areas.period_type,
        period_areas.period,
        period_areas.usage_area,
        period_areas.period_hours,
        coalesce(usage_sums.gpu_hours, 0) as gpu_hours,
        coalesce(usage_sums.cpu_core_hours, 0) as cpu_core_hours,
        coalesce(usage_sums.jobs, 0) as jobs,
        coalesce(usage_sums.active_users, 0) as active_users,
        coalesce(usage_sums.active_partners, 0) as active_partners,
        coalesce(new_partners.new_partners, 0) as new_partners,
        usage_sums.trainees,
        coalesce(usage_sums.revier_gpu_hours, 0) as revier_gpu_hours,
        coalesce(usage_sums.company_gpu_hours, 0) as company_gpu_hours,
        coalesce(usage_sums.compute_value_eur, 0) as compute_value_eur,
        coalesce(usage_sums.subsidy_eur, 0) as subsidy_eur,
        coalesce(usage_sums.cost_eur, 0) as cost_eur,
        coalesce(usage_sums.job_it_energy_kwh, 0) as job_it_energy_kwh,
        coalesce(usage_sums.job_measured_kwh, 0) as job_measured_kwh,
        coalesce(usage_sums.job_interpolated_kwh, 0) as job_interpolated_kwh,
        coalesce(usage_sums.job_estimated_kwh, 0) as job_estimated_kwh,
        coalesce(usage_sums.job_facility_energy_kwh, 0) as job_facility_energy_kwh,
        coalesce(usage_sums.co2e_kg, 0) as co2e_kg,
        coalesce(usage_sums.co2e_market_kg, 0) as co2e_market_kg,
        coalesce(usage_sums.economic_use_gpu_hours, 0) as economic_use_gpu_hours,
        installed.installed_gpus
    from period_areas
    cross join installed
    left join usage_sums
        on period_areas.period_type = usage_sums.period_type
       and period_areas.period = usage_sums.period
       and period_areas.usage_area = usage_sums.usage_area
    left join new_partners
        on period_areas.period_type = new_partners.period_type
       and period_areas.period = new_partners.period
       and period_areas.usage_area = new_partners.usage_area

),

usage_kpis as (

    {{ kpi_rows('usage_wide', [
        ('gpu_hours', 'gpu_hours', 'GPU-h'),
        ('cpu_core_hours', 'cpu_core_hours', 'core-h'),
        ('jobs', 'jobs', 'count'),
        ('active_users', 'active_users', 'count'),
        ('active_partners', 'active_partners', 'count'),
        ('new_partners', 'new_partners', 'count'),
        ('revier_gpu_hour_share_pct', 'case when gpu_hours > 0 then least(100.0, 100.0 * revier_gpu_hours / gpu_hours) end', '%'),
        ('company_gpu_hour_share_pct', 'case when gpu_hours > 0 then least(100.0, 100.0 * company_gpu_hours / gpu_hours) end', '%'),
        ('trainees', "case when usage_area in ('education', 'all') then coalesce(trainees, 0) end", 'count'),
        ('compute_value_eur', 'compute_value_eur', 'EUR'),
        ('subsidy_eur', 'subsidy_eur', 'EUR'),
        ('cost_eur', 'cost_eur', 'EUR'),
        ('job_it_energy_kwh', 'job_it_energy_kwh', 'kWh'),
        ('job_it_energy_measured_kwh', 'job_measured_kwh', 'kWh'),
        ('job_it_energy_interpolated_kwh', 'job_interpolated_kwh', 'kWh'),
        ('job_it_energy_estimated_kwh', 'job_estimated_kwh', 'kWh'),
        ('job_facility_energy_kwh', 'job_facility_energy_kwh', 'kWh'),
        ('job_co2e_kg', 'co2e_kg', 'kg CO2e'),
        ('job_co2e_market_kg', 'co2e_market_kg', 'kg CO2e'),
        ('gpu_utilization_pct', 'case when installed_gpus * period_hours > 0 then 100.0 * gpu_hours / (installed_gpus * period_hours) end', '%'),
        ('installed_gpus', "case when usage_area = 'all' then installed_gpus end", 'count'),
    ]) }}

),

-- partners by type and region ----------------------------------------------------------

active_partner_periods as (

    select distinct
        period_type,
        period,
        kpi_area as usage_area,
        partner_id,
        coalesce(partner_kind, 'unknown') as partner_kind,
        case
            when is_revier then 'revier'
            when partner_nuts3 is null then 'unknown'
            when partner_nuts3 like 'DE%' then 'germany_other'
            else 'abroad'
        end as region_group
    from facts_by_area
    where is_partner_usage

),

partner_group_kpis as (

    select
        period_type,
        period,
        usage_area,
        'partners_type_' || partner_kind as kpi,
        cast(count(*) as double) as value,
        'count' as unit
    from active_partner_periods
    group by period_type, period, usage_area, partner_kind

    union all

    select
        period_type,
        period,
        usage_area,
        'partners_region_' || region_group,
        cast(count(*) as double),
        'count'
    from active_partner_periods
    group by period_type, period, usage_area, region_group
),

-- contracts ----------------------------------------------------------------------------

contract_terms as (

    select
        contract_id,
        min(usage_area) as usage_area,
        min(coalesce(valid_from, effective_from)) as valid_from,
        max(coalesce(valid_to, date '9999-12-31')) as valid_to
    from versions
    group by contract_id

),

contract_periods as (

    -- each contract active in a period, with the version in force at the period's end
    select
        periods.period_type,
        periods.period,
        contract_terms.contract_id,
        contract_terms.usage_area,
        arg_max(versions.jobs_created, versions.effective_from) as jobs_created,
        arg_max(versions.trainees, versions.effective_from) as trainees_committed
    from periods
    inner join contract_terms
        on contract_terms.valid_from <= periods.period_end
       and contract_terms.valid_to >= periods.period_start
    inner join versions
        on versions.contract_id = contract_terms.contract_id
       and versions.effective_from <= periods.period_end
    group by periods.period_type, periods.period, contract_terms.contract_id, contract_terms.usage_area

),

contract_periods_by_area as (

    select *, usage_area as kpi_area from contract_periods
    union all
    select *, 'all' from contract_periods

),

contract_sums as (

    select
        period_areas.period_type,
        period_areas.period,
        period_areas.usage_area,
        count(distinct contract_periods_by_area.contract_id)
            filter (where contract_periods_by_area.usage_area = 'education') as courses,
        count(distinct contract_periods_by_area.contract_id)
            filter (where contract_periods_by_area.usage_area = 'cooperation') as cooperation_projects,
        count(distinct contract_periods_by_area.contract_id) as contracts_active,
        coalesce(sum(contract_periods_by_area.jobs_created), 0) as committed_jobs_created,
        coalesce(sum(contract_periods_by_area.trainees_committed), 0) as committed_trainees
    from period_areas
    left join contract_periods_by_area
        on period_areas.period_type = contract_periods_by_area.period_type
       and period_areas.period = contract_periods_by_area.period
       and period_areas.usage_area = contract_periods_by_area.kpi_area
    group by period_areas.period_type, period_areas.period, period_areas.usage_area

),

contract_kpis as (

    {{ kpi_rows('contract_sums', [
        ('courses', "case when usage_area in ('education', 'all') then courses end", 'count'),
        ('cooperation_projects_active', "case when usage_area in ('cooperation', 'all') then cooperation_projects end", 'count'),
        ('contracts_active', 'contracts_active', 'count'),
        ('committed_jobs_created', 'committed_jobs_created', 'count'),
        ('committed_trainees', 'committed_trainees', 'count'),
    ]) }}

),

-- energy (whole facility) --------------------------------------------------------------

energy_sums as (

    select
        day_periods.period_type,
        day_periods.period,
        'all' as usage_area,
        sum(energy_daily.it_kwh) as it_energy_kwh,
        sum(energy_daily.grid_kwh) as facility_energy_kwh,
        sum(energy_daily.heat_reuse_kwh) as heat_reuse_kwh,
        sum(energy_daily.renewable_kwh) as renewable_kwh,
        sum(day_periods.hours) filter (where energy_daily.it_kwh is not null) as it_hours,
        max(energy_daily.peak_it_kw) as peak_it_kw,
        sum(energy_daily.grid_kwh * grid_factors.g_co2e_per_kwh) / 1000.0 as facility_co2e_kg,
        sum(
            energy_daily.grid_kwh
            * (1 - {{ renewable_share_expr('energy_daily') }})
            * residual_factors.g_co2e_per_kwh
        ) / 1000.0 as facility_co2e_market_kg,
        max(design.design_it_power_kw) as design_it_power_kw
    from energy_daily
    inner join day_periods
        on energy_daily.day = day_periods.day
    cross join design
    left join grid_factors
        on day_periods.month = grid_factors.month
    left join residual_factors
        on year(energy_daily.day) = residual_factors.year
    group by day_periods.period_type, day_periods.period

),

energy_kpis as (

    {{ kpi_rows('energy_sums', [
        ('it_energy_kwh', 'it_energy_kwh', 'kWh'),
        ('facility_energy_kwh', 'facility_energy_kwh', 'kWh'),
        ('pue', 'case when it_energy_kwh > 0 then facility_energy_kwh / it_energy_kwh end', '1'),
        ('erf', 'case when facility_energy_kwh > 0 then coalesce(heat_reuse_kwh, 0) / facility_energy_kwh end', '1'),
        ('renewable_share_pct', 'case when facility_energy_kwh > 0 then 100.0 * least(coalesce(renewable_kwh, 0), facility_energy_kwh) / facility_energy_kwh end', '%'),
        ('co2e_location_kg', 'facility_co2e_kg', 'kg CO2e'),
        ('co2e_market_kg', 'facility_co2e_market_kg', 'kg CO2e'),
        ('avg_it_load_kw', 'case when it_hours > 0 then it_energy_kwh / it_hours end', 'kW'),
        ('peak_it_load_kw', 'peak_it_kw', 'kW'),
        ('avg_it_load_design_pct', 'case when it_hours > 0 and design_it_power_kw > 0 then 100.0 * it_energy_kwh / it_hours / design_it_power_kw end', '%'),
        ('peak_it_load_design_pct', 'case when design_it_power_kw > 0 then 100.0 * peak_it_kw / design_it_power_kw end', '%'),
        ('design_it_power_kw', 'design_it_power_kw', 'kW'),
    ]) }}

),

-- state-aid checks (state at the period's last month) ----------------------------------

compliance as (

    select
        periods.period_type,
        periods.period,
        'all' as usage_area,
        (select count(*) from deminimis
            where deminimis.month = periods.last_month and deminimis.is_flagged) as deminimis_flagged,
        (select count(*) from deminimis
            where deminimis.month = periods.last_month and deminimis.is_exceeded) as deminimis_exceeded,
        (select max(ceiling_share_pct) from deminimis
            where deminimis.month = periods.last_month) as deminimis_max_share,
        economic_use.economic_use_gpu_hours_ytd,
        economic_use.annual_limit_gpu_hours,
        economic_use.annual_limit_share_pct,
        economic_use.is_flagged as economic_use_flagged
    from periods
    left join economic_use
        on economic_use.month = periods.last_month

),

compliance_kpis as (

    {{ kpi_rows('compliance', [
        ('deminimis_partners_flagged', 'deminimis_flagged', 'count'),
        ('deminimis_partners_exceeded', 'deminimis_exceeded', 'count'),
        ('deminimis_max_ceiling_pct', 'deminimis_max_share', '%'),
        ('economic_use_gpu_hours_ytd', 'economic_use_gpu_hours_ytd', 'GPU-h'),
        ('economic_use_annual_limit_gpu_hours', 'annual_limit_gpu_hours', 'GPU-h'),
        ('economic_use_share_pct', 'annual_limit_share_pct', '%'),
        ('economic_use_flagged', 'case when economic_use_flagged then 1 else 0 end', 'flag'),
    ]) }}

),

economic_period_kpis as (

    {{ kpi_rows('usage_wide', [
        ('economic_use_gpu_hours', "case when usage_area = 'all' then economic_use_gpu_hours end", 'GPU-h'),
    ]) }}

),

all_kpis as (

    select * from usage_kpis
    union all select * from partner_group_kpis
    union all select * from contract_kpis
    union all select * from energy_kpis
    union all select * from compliance_kpis
    union all select * from economic_period_kpis

),

final as (

    select
        period_type || '|' || period || '|' || usage_area || '|' || kpi as kpi_key,
        period_type,
        period,
        usage_area,
        kpi,
        value,
        unit

    from all_kpis
    where value is not null

)

select * from final
