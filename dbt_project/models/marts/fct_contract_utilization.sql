-- Allocated and used GPU-hours per contract and local month. A version's allocation is for
-- the contract's whole term, so each day of the term is allotted allocation / term days of
-- the version in force that day (pro rata per day; an amendment raising the allocation
-- raises the daily share from its effective date on). Contracts without an end date are
-- allotted per 365 days. Usage is the GPU-hours of jobs matched to the contract, split by
-- local day.

with

versions as (

    select * from {{ ref('stg_contracts__versions') }}

),

calendar as (

    select * from {{ ref('int_calendar_days') }}

),

job_days as (

    select * from {{ ref('int_job_days_accounted') }}

),

contracts as (

    select
        contract_id,
        min(valid_from) as valid_from,
        max(valid_to) as valid_to
    from versions
    group by contract_id

),

contract_days as (

    select
        contracts.contract_id,
        calendar.day,
        calendar.month,
        calendar.month_label,
        coalesce(contracts.valid_to - contracts.valid_from + 1, 365) as term_days
    from contracts
    inner join calendar
        on calendar.day >= contracts.valid_from
       and calendar.day <= coalesce(contracts.valid_to, date '9999-12-31')

),

allotted as (

    select
        contract_days.contract_id,
        contract_days.day,
        contract_days.month,
        contract_days.month_label,
        versions.version_no,
        versions.gpu_hours_allocated,
        coalesce(versions.gpu_hours_allocated, 0) / contract_days.term_days as gpu_hours_allotted
    from contract_days
    inner join versions
        on contract_days.contract_id = versions.contract_id
       and contract_days.day >= versions.effective_from
       and contract_days.day <= coalesce(versions.effective_to, date '9999-12-31')

),

allotted_monthly as (

    select
        contract_id,
        month,
        month_label,
        sum(gpu_hours_allotted) as gpu_hours_allocated,
        count(*) as days_in_force,
        max(version_no) as last_version_no,
        arg_max(gpu_hours_allocated, day) as contract_gpu_hours_allocated
    from allotted
    group by contract_id, month, month_label

),

used_monthly as (

    select
        contract_id,
        cast(date_trunc('month', day) as date) as month,
        sum(gpu_hours) as gpu_hours_used,
        sum(cpu_core_hours) as cpu_core_hours_used,
        count(distinct job_key) filter (where is_start_day) as jobs_started
    from job_days
    where contract_id is not null
    group by contract_id, cast(date_trunc('month', day) as date)

),

combined as (

    select
        allotted_monthly.contract_id,
        allotted_monthly.month,
        allotted_monthly.month_label,
        allotted_monthly.days_in_force,
        allotted_monthly.last_version_no,
        allotted_monthly.contract_gpu_hours_allocated,
        allotted_monthly.gpu_hours_allocated,
        coalesce(used_monthly.gpu_hours_used, 0) as gpu_hours_used,
        coalesce(used_monthly.cpu_core_hours_used, 0) as cpu_core_hours_used,
        coalesce(used_monthly.jobs_started, 0) as jobs_started
    from allotted_monthly
    left join used_monthly
        on allotted_monthly.contract_id = used_monthly.contract_id
       and allotted_monthly.month = used_monthly.month

),

final as (

    select
        contract_id || '|' || month_label as contract_month_key,
        contract_id,
        month,
        month_label,
        days_in_force,
        last_version_no as version_no,
        contract_gpu_hours_allocated,
        gpu_hours_allocated,
        gpu_hours_used,
        cpu_core_hours_used,
        jobs_started,
        case
            when gpu_hours_allocated > 0 then 100.0 * gpu_hours_used / gpu_hours_allocated
        end as utilization_pct,
        sum(gpu_hours_allocated) over contract_to_date as gpu_hours_allocated_to_date,
        sum(gpu_hours_used) over contract_to_date as gpu_hours_used_to_date,
        case
            when sum(gpu_hours_allocated) over contract_to_date > 0
                then 100.0 * sum(gpu_hours_used) over contract_to_date
                    / sum(gpu_hours_allocated) over contract_to_date
        end as utilization_to_date_pct

    from combined
    window contract_to_date as (
        partition by contract_id order by month
        rows between unbounded preceding and current row
    )

)

select * from final
