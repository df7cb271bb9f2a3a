-- Jobs per contract, report period and final state, counted in the period the job started
-- (partner statements list them).

with

jobs as (

    select * from {{ ref('fct_job_usage') }}

),

periods as (

    select * from {{ ref('int_calendar_periods') }}

),

final as (

    select
        jobs.contract_id || '|' || periods.period_type || '|' || periods.period || '|' || coalesce(upper(jobs.state), 'UNKNOWN')
            as contract_state_key,
        jobs.contract_id,
        periods.period_type,
        periods.period,
        coalesce(upper(jobs.state), 'UNKNOWN') as state,
        count(*) as jobs,
        sum(jobs.gpu_hours) as gpu_hours
    from jobs
    inner join periods
        on {{ local_date('jobs.start_at') }} = periods.day
    where jobs.contract_id is not null and jobs.start_at is not null
    group by all

)

select * from final
