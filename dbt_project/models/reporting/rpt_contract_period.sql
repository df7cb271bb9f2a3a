-- One row per contract and report period (month, quarter, half-year, year) overlapping its
-- term or its use: what was used in the period, and the contract's position at the period's
-- end: allotment of the version then in force, used to date, remaining, the pro-rata target
-- (allotment x elapsed share of the term, a yardstick, not an entitlement), and the use
-- projected to the term's end from the burn rate of the last var('burn_rate_days') days up to
-- the period's last day with data. Flags at var('warn_share') of the allotment and at 100 %.
-- The amounts of the partner statement: the GPU-hour list price in force on the as-of day, the
-- net amount (cost in cents), VAT at var('vat_rate') on it, and the gross amount.

{%- set burn_days = var('burn_rate_days') %}
{%- set warn_share = var('warn_share') %}
{%- set vat_rate = var('vat_rate') %}

with

versions as (

    select * from {{ ref('stg_contracts__versions') }}

),

contracts as (

    select * from {{ ref('dim_contract') }}

),

job_days as (

    select * from {{ ref('int_job_days_accounted') }}

),

periods as (

    select * from {{ ref('int_calendar_periods') }}

),

coverage as (

    select * from {{ ref('rpt_period_coverage') }}

),

first_use as (

    select * from {{ ref('int_partner_first_use') }}
    where usage_area = 'all'

),

contract_daily as (

    select
        contract_id,
        day,
        sum(gpu_hours) as gpu_hours,
        sum(cpu_core_hours) as cpu_core_hours,
        count(distinct job_key) filter (where is_start_day) as jobs_started,
        sum(cost_eur) as cost_eur,
        sum(compute_value_eur) as compute_value_eur,
        sum(subsidy_eur) as subsidy_eur,
        sum(it_energy_kwh) as it_energy_kwh,
        sum(facility_energy_kwh) as facility_energy_kwh,
        sum(co2e_kg) as co2e_kg,
        sum(co2e_market_kg) as co2e_market_kg
    from job_days
    where contract_id is not null
    group by contract_id, day

),

period_list as (

    select distinct period_type, period, period_start, period_end from periods

),

contract_periods as (

    select
        contracts.contract_id,
        contracts.partner_id,
        contracts.usage_area,
        period_list.period_type,
        period_list.period,
        period_list.period_start,
        period_list.period_end,
        contracts.valid_from as term_start,
        contracts.valid_to as term_end,
        -- the day the position is taken: the period's end, or its last day with data
        least(period_list.period_end, coalesce(coverage.last_data_day, period_list.period_end))
            as as_of_day
    from contracts
    inner join period_list
        on period_list.period_start <= coalesce(contracts.valid_to, date '9999-12-31')
       and period_list.period_end >= contracts.valid_from
    inner join coverage
        on coverage.period_type = period_list.period_type
       and coverage.period = period_list.period

),

in_force as (

    select
        contract_periods.contract_id,
        contract_periods.period_type,
        contract_periods.period,
        arg_max(versions.gpu_hours_allocated, versions.version_no) as allotment_gpu_hours,
        arg_max(versions.price_eur_per_gpu_hour, versions.version_no) as price_eur_per_gpu_hour,
        arg_max(versions.version_no, versions.version_no) as version_no,
        arg_max(versions.jobs_created, versions.version_no) as jobs_created_committed
    from contract_periods
    inner join versions
        on versions.contract_id = contract_periods.contract_id
       and versions.effective_from <= greatest(
           least(contract_periods.period_end, coalesce(contract_periods.term_end, contract_periods.period_end)),
           contract_periods.term_start
       )
    group by contract_periods.contract_id, contract_periods.period_type, contract_periods.period

),

period_use as (

    select
        contract_periods.contract_id,
        contract_periods.period_type,
        contract_periods.period,
        coalesce(sum(d.gpu_hours), 0) as gpu_hours,
        coalesce(sum(d.cpu_core_hours), 0) as cpu_core_hours,
        coalesce(sum(d.jobs_started), 0) as jobs_started,
        coalesce(sum(d.cost_eur), 0) as cost_eur,
        coalesce(sum(d.compute_value_eur), 0) as compute_value_eur,
        coalesce(sum(d.subsidy_eur), 0) as subsidy_eur,
        coalesce(sum(d.it_energy_kwh), 0) as it_energy_kwh,
        coalesce(sum(d.facility_energy_kwh), 0) as facility_energy_kwh,
        coalesce(sum(d.co2e_kg), 0) as co2e_kg,
        coalesce(sum(d.co2e_market_kg), 0) as co2e_market_kg,
        count(distinct d.day) filter (where d.gpu_hours + d.cpu_core_hours > 0) as days_with_use
    from contract_periods
    left join contract_daily as d
        on d.contract_id = contract_periods.contract_id
       and d.day between contract_periods.period_start and contract_periods.period_end
    group by contract_periods.contract_id, contract_periods.period_type, contract_periods.period

),

use_to_date as (

    select
        contract_periods.contract_id,
        contract_periods.period_type,
        contract_periods.period,
        coalesce(sum(d.gpu_hours), 0) as used_to_date_gpu_hours,
        coalesce(sum(d.gpu_hours) filter (where d.day > contract_periods.as_of_day - {{ burn_days }}), 0)
            as burn_window_gpu_hours
    from contract_periods
    left join contract_daily as d
        on d.contract_id = contract_periods.contract_id
       and d.day <= contract_periods.as_of_day
    group by contract_periods.contract_id, contract_periods.period_type, contract_periods.period

),

-- the GPU-hour list price in force on the as-of day (macro gpu_list_price_as_of, shared with
-- int_deminimis_grants)
list_priced as (

    {{ gpu_list_price_as_of('contract_periods', ['contract_id', 'period_type', 'period'], 'as_of_day') }}

),

sums as (

    select period_use.*, use_to_date.used_to_date_gpu_hours, use_to_date.burn_window_gpu_hours
    from period_use
    inner join use_to_date
        on period_use.contract_id = use_to_date.contract_id
       and period_use.period_type = use_to_date.period_type
       and period_use.period = use_to_date.period

),

positions as (

    select
        contract_periods.*,
        in_force.version_no,
        in_force.allotment_gpu_hours,
        in_force.price_eur_per_gpu_hour,
        in_force.jobs_created_committed,
        list_priced.list_price_eur_per_gpu_hour,
        first_use.first_day between contract_periods.period_start and contract_periods.period_end
            as is_first_use_in_period,
        sums.* exclude (contract_id, period_type, period),
        contract_periods.term_end - contract_periods.term_start + 1 as term_days,
        greatest(
            0,
            least(contract_periods.as_of_day, coalesce(contract_periods.term_end, contract_periods.as_of_day))
                - contract_periods.term_start + 1
        ) as term_days_elapsed,
        -- the burn window starts no earlier than the term
        greatest(
            1,
            least({{ burn_days }}, contract_periods.as_of_day - contract_periods.term_start + 1)
        ) as burn_window_days,
        greatest(0, coalesce(contract_periods.term_end, contract_periods.as_of_day) - contract_periods.as_of_day)
            as term_days_remaining
    from contract_periods
    inner join in_force
        on in_force.contract_id = contract_periods.contract_id
       and in_force.period_type = contract_periods.period_type
       and in_force.period = contract_periods.period
    inner join sums
        on sums.contract_id = contract_periods.contract_id
       and sums.period_type = contract_periods.period_type
       and sums.period = contract_periods.period
    left join first_use
        on first_use.partner_id = contract_periods.partner_id
    left join list_priced
        on list_priced.contract_id = contract_periods.contract_id
       and list_priced.period_type = contract_periods.period_type
       and list_priced.period = contract_periods.period

),

-- the statement's amounts: VAT on the net amount in cents, rounded to cents
amounts as (

    select
        *,
        round(cost_eur, 2) as net_eur,
        round(round(cost_eur, 2) * {{ vat_rate }}, 2) as vat_eur
    from positions

),

final as (

    select
        contract_id || '|' || period_type || '|' || period as contract_period_key,
        contract_id,
        partner_id,
        usage_area,
        period_type,
        period,
        period_start,
        period_end,
        as_of_day,
        term_start,
        term_end,
        cast(term_days as integer) as term_days,
        cast(term_days_elapsed as integer) as term_days_elapsed,
        cast(term_days_remaining as integer) as term_days_remaining,
        version_no,
        allotment_gpu_hours,
        price_eur_per_gpu_hour,
        gpu_hours,
        cpu_core_hours,
        cast(jobs_started as bigint) as jobs_started,
        cast(days_with_use as integer) as days_with_use,
        days_with_use > 0 and usage_area <> 'operations' as is_partner_active,
        days_with_use > 0 and usage_area <> 'operations' and coalesce(is_first_use_in_period, false)
            as is_new_partner,
        cast(jobs_created_committed as integer) as jobs_created_committed,
        cost_eur,
        compute_value_eur,
        subsidy_eur,
        it_energy_kwh,
        facility_energy_kwh,
        co2e_kg,
        co2e_market_kg,
        used_to_date_gpu_hours,
        allotment_gpu_hours - used_to_date_gpu_hours as remaining_gpu_hours,
        case when allotment_gpu_hours > 0 then 100.0 * used_to_date_gpu_hours / allotment_gpu_hours end
            as used_share_pct,
        case when term_days > 0 then allotment_gpu_hours * term_days_elapsed / term_days end
            as pro_rata_target_gpu_hours,
        burn_window_gpu_hours / burn_window_days as burn_rate_gpu_hours_per_day,
        used_to_date_gpu_hours + burn_window_gpu_hours / burn_window_days * term_days_remaining
            as projected_at_term_end_gpu_hours,
        allotment_gpu_hours > 0 and used_to_date_gpu_hours >= {{ warn_share }} * allotment_gpu_hours
            as is_warn,
        allotment_gpu_hours > 0 and used_to_date_gpu_hours >= allotment_gpu_hours as is_exhausted,
        allotment_gpu_hours > 0
            and used_to_date_gpu_hours + burn_window_gpu_hours / burn_window_days * term_days_remaining
                > allotment_gpu_hours as is_projected_over,
        list_price_eur_per_gpu_hour,
        cast({{ vat_rate }} as double) as vat_rate,
        net_eur,
        vat_eur,
        net_eur + vat_eur as gross_eur

    from amounts

)

select * from final
