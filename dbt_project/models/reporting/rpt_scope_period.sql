-- Every scope figure of the funder reports and partner statements, per scope ('all',
-- 'funder:<id>', 'partner:<id>'), period and usage area ('all' = every area of the scope):
-- usage and distinct counts from int_usage_by_scope_period, contracts active in the period
-- from the contract terms, and shares computed once here (Revier and company shares of the
-- scope's GPU-hours, the scope's share of the centre's capacity over its days in operation).

with

usage as (

    select * from {{ ref('int_usage_by_scope_period') }}

),

coverage as (

    select * from {{ ref('rpt_period_coverage') }}

),

contracts as (

    select * from {{ ref('dim_contract') }}

),

versions as (

    select * from {{ ref('stg_contracts__versions') }}

),

energy_daily as (

    select * from {{ ref('fct_energy_daily') }}

),

periods as (

    select * from {{ ref('int_calendar_periods') }}

),

centre_it as (

    select periods.period_type, periods.period, sum(energy_daily.it_kwh) as it_meter_kwh
    from energy_daily
    inner join periods
        on energy_daily.day = periods.day
    group by periods.period_type, periods.period

),

areas as (

    select usage_area from {{ ref('usage_areas') }}
    union all
    select 'all'

),

contract_scopes as (

    select contract_id, 'all' as scope_key from contracts
    union all
    select contracts.contract_id, 'funder:' || funder.funder_id
    from contracts, unnest(contracts.funders) as funder(funder_id)
    union all
    select contract_id, 'partner:' || partner_id from contracts

),

scopes as (

    select distinct scope_key from contract_scopes
    union
    select distinct scope_key from usage

),

active_contracts as (

    -- contracts whose term overlaps the period, with the version in force at its end
    select
        contract_scopes.scope_key,
        coverage.period_type,
        coverage.period,
        contracts.contract_id,
        contracts.usage_area,
        arg_max(versions.jobs_created, versions.version_no) as jobs_created,
        arg_max(versions.trainees, versions.version_no) as trainees_committed
    from contracts
    inner join contract_scopes
        on contract_scopes.contract_id = contracts.contract_id
    inner join coverage
        on contracts.valid_from <= coverage.period_end
       and coalesce(contracts.valid_to, date '9999-12-31') >= coverage.period_start
    inner join versions
        on versions.contract_id = contracts.contract_id
       and versions.effective_from <= greatest(coverage.period_end, contracts.valid_from)
    group by contract_scopes.scope_key, coverage.period_type, coverage.period,
        contracts.contract_id, contracts.usage_area

),

contract_counts as (

    select
        scope_key,
        period_type,
        period,
        kpi_area as usage_area,
        count(*) as contracts_active,
        count(*) filter (where usage_area = 'education') as courses,
        count(*) filter (where usage_area = 'cooperation') as cooperation_projects_active,
        sum(jobs_created) as committed_jobs_created,
        sum(trainees_committed) as committed_trainees
    from (
        select *, usage_area as kpi_area from active_contracts
        union all
        select *, 'all' from active_contracts
    ) as by_area
    group by scope_key, period_type, period, kpi_area

),

grid as (

    select scopes.scope_key, coverage.period_type, coverage.period, areas.usage_area
    from scopes
    cross join coverage
    cross join areas

),

final as (

    select
        grid.scope_key || '|' || grid.period_type || '|' || grid.period || '|' || grid.usage_area
            as scope_period_key,
        grid.scope_key,
        split_part(grid.scope_key, ':', 1) as scope_type,
        nullif(substr(grid.scope_key, length(split_part(grid.scope_key, ':', 1)) + 2), '') as scope_id,
        grid.period_type,
        grid.period,
        grid.usage_area,
        coalesce(usage.gpu_hours, 0) as gpu_hours,
        coalesce(usage.cpu_core_hours, 0) as cpu_core_hours,
        cast(coalesce(usage.jobs, 0) as bigint) as jobs,
        cast(coalesce(usage.active_users, 0) as bigint) as active_users,
        cast(coalesce(usage.trainees, 0) as bigint) as trainees,
        cast(coalesce(usage.active_partners, 0) as bigint) as active_partners,
        cast(coalesce(usage.new_partners, 0) as bigint) as new_partners,
        coalesce(usage.revier_gpu_hours, 0) as revier_gpu_hours,
        coalesce(usage.company_gpu_hours, 0) as company_gpu_hours,
        coalesce(usage.economic_use_gpu_hours, 0) as economic_use_gpu_hours,
        case when usage.gpu_hours > 0 then 100.0 * usage.revier_gpu_hours / usage.gpu_hours end
            as revier_gpu_hour_share_pct,
        case when usage.gpu_hours > 0 then 100.0 * usage.company_gpu_hours / usage.gpu_hours end
            as company_gpu_hour_share_pct,
        case when coverage.gpu_capacity_hours > 0 then 100.0 * coalesce(usage.gpu_hours, 0) / coverage.gpu_capacity_hours end
            as share_of_capacity_pct,
        usage.busy_gpu_hours,
        -- GPU use: busy over allocated GPU-hours (DCGM), next to the allocation's share of capacity
        case when usage.measured_gpu_hours > 0
             then 100.0 * usage.busy_gpu_hours / usage.measured_gpu_hours end
            as gpu_used_pct,
        coalesce(usage.cost_eur, 0) as cost_eur,
        coalesce(usage.compute_value_eur, 0) as compute_value_eur,
        coalesce(usage.subsidy_eur, 0) as subsidy_eur,
        coalesce(usage.it_energy_kwh, 0) as it_energy_kwh,
        coalesce(usage.measured_kwh, 0) as measured_kwh,
        coalesce(usage.interpolated_kwh, 0) as interpolated_kwh,
        coalesce(usage.estimated_kwh, 0) as estimated_kwh,
        coalesce(usage.facility_energy_kwh, 0) as facility_energy_kwh,
        coalesce(usage.co2e_kg, 0) as co2e_kg,
        coalesce(usage.co2e_market_kg, 0) as co2e_market_kg,
        case when usage.it_energy_kwh > 0 then 100.0 * usage.measured_kwh / usage.it_energy_kwh end
            as measured_share_pct,
        case when usage.it_energy_kwh > 0 then 100.0 * usage.interpolated_kwh / usage.it_energy_kwh end
            as interpolated_share_pct,
        case when usage.it_energy_kwh > 0 then 100.0 * usage.estimated_kwh / usage.it_energy_kwh end
            as estimated_share_pct,
        case when centre_it.it_meter_kwh > 0 then 100.0 * coalesce(usage.it_energy_kwh, 0) / centre_it.it_meter_kwh end
            as share_of_centre_it_energy_pct,
        cast(coalesce(contract_counts.contracts_active, 0) as bigint) as contracts_active,
        cast(coalesce(contract_counts.courses, 0) as bigint) as courses,
        cast(coalesce(contract_counts.cooperation_projects_active, 0) as bigint) as cooperation_projects_active,
        cast(coalesce(contract_counts.committed_jobs_created, 0) as bigint) as committed_jobs_created,
        cast(coalesce(contract_counts.committed_trainees, 0) as bigint) as committed_trainees,
        -- a usage area's part of its scope's GPU-hours (100 for the row 'all')
        100.0 * coalesce(usage.gpu_hours, 0) / nullif(max(case when grid.usage_area = 'all' then usage.gpu_hours end)
            over (partition by grid.scope_key, grid.period_type, grid.period), 0) as share_of_scope_gpu_hours_pct

    from grid
    inner join coverage
        on grid.period_type = coverage.period_type
       and grid.period = coverage.period
    left join usage
        on grid.scope_key = usage.scope_key
       and grid.period_type = usage.period_type
       and grid.period = usage.period
       and grid.usage_area = usage.usage_area
    left join centre_it
        on grid.period_type = centre_it.period_type
       and grid.period = centre_it.period
    left join contract_counts
        on grid.scope_key = contract_counts.scope_key
       and grid.period_type = contract_counts.period_type
       and grid.period = contract_counts.period
       and grid.usage_area = contract_counts.usage_area

)

select * from final
