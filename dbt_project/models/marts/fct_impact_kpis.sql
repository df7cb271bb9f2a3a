-- Impact KPIs per local period (month 'YYYY-MM', quarter 'YYYY-Qn', year 'YYYY') and usage
-- area ('all' = every area, technical buckets included), in long format: kpi, value, unit.
-- Periods are those with usage or energy data (reporting.rpt_period_coverage). Usage and
-- contract KPIs are the whole centre's row of reporting.rpt_scope_period (one definition with
-- the reports), energy KPIs (usage_area 'all' only) come from reporting.rpt_energy_figures
-- (energy, PUE, ERF, renewable share, CO2e) and fct_energy_daily (IT load), state-aid KPIs
-- from rpt_state_aid and rpt_deminimis. Ratios whose denominator is zero are left out.

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

energy_daily as (

    select * from {{ ref('fct_energy_daily') }}

),

centre as (

    -- the whole centre's figures (scope 'all'): one definition shared with the reports
    select * from {{ ref('rpt_scope_period') }}
    where scope_key = 'all'

),

coverage as (

    select * from {{ ref('rpt_period_coverage') }}

),

deminimis as (

    select * from {{ ref('rpt_deminimis') }}

),

state_aid as (

    select * from {{ ref('rpt_state_aid') }}

),

energy_figures as (

    -- the statutory energy figures (E_DC, PUE over matched days, ERF, REF from the certificate
    -- ledger, CO2e): one definition with the energy report and the register export
    select * from {{ ref('rpt_energy_figures') }}

),

-- calendar -----------------------------------------------------------------------------

day_periods as (

    select day, month, 'month' as period_type, month_label as period, hours from calendar
    union all
    select day, month, 'quarter', quarter_label, hours from calendar
    union all
    select day, month, 'year', year_label, hours from calendar

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

usage_wide as (

    select
        centre.*,
        coverage.installed_gpus,
        coverage.gpu_capacity_hours
    from centre
    inner join coverage
        on centre.period_type = coverage.period_type
       and centre.period = coverage.period
    where centre.period_type in ('month', 'quarter', 'year')

),

usage_kpis as (

    {{ kpi_rows('usage_wide', [
        ('gpu_hours', 'gpu_hours', 'GPU-h'),
        ('cpu_core_hours', 'cpu_core_hours', 'core-h'),
        ('jobs', 'jobs', 'count'),
        ('active_users', 'active_users', 'count'),
        ('active_partners', 'active_partners', 'count'),
        ('new_partners', 'new_partners', 'count'),
        ('revier_gpu_hour_share_pct', 'revier_gpu_hour_share_pct', '%'),
        ('company_gpu_hour_share_pct', 'company_gpu_hour_share_pct', '%'),
        ('trainees', "case when usage_area in ('education', 'all') then trainees end", 'count'),
        ('compute_value_eur', 'compute_value_eur', 'EUR'),
        ('subsidy_eur', 'subsidy_eur', 'EUR'),
        ('cost_eur', 'cost_eur', 'EUR'),
        ('job_it_energy_kwh', 'it_energy_kwh', 'kWh'),
        ('job_it_energy_measured_kwh', 'measured_kwh', 'kWh'),
        ('job_it_energy_interpolated_kwh', 'interpolated_kwh', 'kWh'),
        ('job_it_energy_estimated_kwh', 'estimated_kwh', 'kWh'),
        ('job_facility_energy_kwh', 'facility_energy_kwh', 'kWh'),
        ('job_co2e_kg', 'co2e_kg', 'kg CO2e'),
        ('job_co2e_market_kg', 'co2e_market_kg', 'kg CO2e'),
        ('gpu_utilization_pct', 'case when gpu_capacity_hours > 0 then 100.0 * gpu_hours / gpu_capacity_hours end', '%'),
        ('gpu_used_pct', 'gpu_used_pct', '%'),
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

contract_kpis as (

    {{ kpi_rows('usage_wide', [
        ('courses', "case when usage_area in ('education', 'all') then courses end", 'count'),
        ('cooperation_projects_active', "case when usage_area in ('cooperation', 'all') then cooperation_projects_active end", 'count'),
        ('contracts_active', 'contracts_active', 'count'),
        ('committed_jobs_created', 'committed_jobs_created', 'count'),
        ('committed_trainees', 'committed_trainees', 'count'),
    ]) }}

),

-- energy (whole facility) --------------------------------------------------------------

energy_load as (

    select
        day_periods.period_type,
        day_periods.period,
        sum(energy_daily.it_kwh) as it_kwh,
        sum(day_periods.hours) filter (where energy_daily.it_kwh is not null) as it_hours,
        max(energy_daily.peak_it_kw) as peak_it_kw,
        max(coverage.design_it_power_kw) as design_it_power_kw
    from energy_daily
    inner join day_periods
        on energy_daily.day = day_periods.day
    left join coverage
        on day_periods.period_type = coverage.period_type
       and day_periods.period = coverage.period
    group by day_periods.period_type, day_periods.period

),

energy_sums as (

    select
        energy_load.period_type,
        energy_load.period,
        'all' as usage_area,
        energy_figures.it_kwh as it_energy_kwh,
        energy_figures.dc_kwh as facility_energy_kwh,
        energy_figures.pue,
        energy_figures.erf,
        energy_figures.ref,
        energy_figures.co2e_location_kg,
        energy_figures.co2e_market_kg,
        energy_load.it_kwh as load_it_kwh,
        energy_load.it_hours,
        energy_load.peak_it_kw,
        energy_load.design_it_power_kw
    from energy_load
    left join energy_figures
        on energy_load.period_type = energy_figures.period_type
       and energy_load.period = energy_figures.period

),

energy_kpis as (

    {{ kpi_rows('energy_sums', [
        ('it_energy_kwh', 'it_energy_kwh', 'kWh'),
        ('facility_energy_kwh', 'facility_energy_kwh', 'kWh'),
        ('pue', 'pue', '1'),
        ('erf', 'erf', '1'),
        ('renewable_share_pct', '100.0 * ref', '%'),
        ('co2e_location_kg', 'co2e_location_kg', 'kg CO2e'),
        ('co2e_market_kg', 'co2e_market_kg', 'kg CO2e'),
        ('avg_it_load_kw', 'case when it_hours > 0 then load_it_kwh / it_hours end', 'kW'),
        ('peak_it_load_kw', 'peak_it_kw', 'kW'),
        ('avg_it_load_design_pct', 'case when it_hours > 0 and design_it_power_kw > 0 then 100.0 * load_it_kwh / it_hours / design_it_power_kw end', '%'),
        ('peak_it_load_design_pct', 'case when design_it_power_kw > 0 then 100.0 * peak_it_kw / design_it_power_kw end', '%'),
        ('design_it_power_kw', 'design_it_power_kw', 'kW'),
    ]) }}

),

-- state-aid checks (state at the period's last month) ----------------------------------

compliance as (

    select
        state_aid.period_type,
        state_aid.period,
        'all' as usage_area,
        (select count(*) from deminimis
            where deminimis.period_type = state_aid.period_type and deminimis.period = state_aid.period
              and deminimis.status in ('warning', 'exceeded')) as deminimis_flagged,
        (select count(*) from deminimis
            where deminimis.period_type = state_aid.period_type and deminimis.period = state_aid.period
              and deminimis.status = 'exceeded') as deminimis_exceeded,
        (select max(share_pct) from deminimis
            where deminimis.period_type = state_aid.period_type and deminimis.period = state_aid.period)
            as deminimis_max_share,
        state_aid.economic_use_gpu_hours_ytd,
        state_aid.allowance_gpu_hours_ytd,
        state_aid.share_of_capacity_pct,
        state_aid.share_of_allowance_pct,
        state_aid.status in ('warning', 'exceeded') as economic_use_flagged
    from state_aid
    where state_aid.period_type in ('month', 'quarter', 'year')

),

compliance_kpis as (

    {{ kpi_rows('compliance', [
        ('deminimis_partners_flagged', 'deminimis_flagged', 'count'),
        ('deminimis_partners_exceeded', 'deminimis_exceeded', 'count'),
        ('deminimis_max_ceiling_pct', 'deminimis_max_share', '%'),
        ('economic_use_gpu_hours_ytd', 'economic_use_gpu_hours_ytd', 'GPU-h'),
        ('economic_use_allowance_gpu_hours', 'allowance_gpu_hours_ytd', 'GPU-h'),
        ('economic_use_capacity_share_pct', 'share_of_capacity_pct', '%'),
        ('economic_use_allowance_share_pct', 'share_of_allowance_pct', '%'),
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
        all_kpis.period_type || '|' || all_kpis.period || '|' || all_kpis.usage_area || '|' || all_kpis.kpi
            as kpi_key,
        all_kpis.period_type,
        all_kpis.period,
        all_kpis.usage_area,
        all_kpis.kpi,
        all_kpis.value,
        all_kpis.unit,
        coverage.days_with_data,
        coverage.days_in_period,
        coverage.is_partial

    from all_kpis
    left join coverage
        on all_kpis.period_type = coverage.period_type
       and all_kpis.period = coverage.period
    where all_kpis.value is not null

)

select * from final
