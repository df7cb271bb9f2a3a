-- Each allocation matched to the contract version whose accounts include the job's account on
-- the local day the job started (or was submitted, for jobs that never started); no match
-- gives usage area 'unassigned'. Overlapping contracts are resolved deterministically: the
-- version in force from the latest date wins, then the lowest contract_id. Economic use is
-- decided by the matched version's activity, never by its price (DESIGN, State aid).

with

jobs as (

    select * from {{ ref('int_jobs_resolved') }}

),

contract_accounts as (

    select * from {{ ref('int_contract_accounts') }}

),

job_days as (

    select
        job_key,
        account,
        {{ local_date('coalesce(start_at, submit_at, received_at)') }} as match_day
    from jobs

),

candidates as (

    select
        job_days.job_key,
        job_days.match_day,
        contract_accounts.contract_id,
        contract_accounts.version_no,
        contract_accounts.contract_version_key,
        contract_accounts.usage_area,
        contract_accounts.partner_id,
        contract_accounts.partner_type,
        contract_accounts.is_company,
        contract_accounts.activity,
        contract_accounts.price_eur_per_gpu_hour,
        contract_accounts.contract_ingest_id,
        row_number() over (
            partition by job_days.job_key
            order by contract_accounts.effective_from desc, contract_accounts.contract_id
        ) as match_rank,
        count(*) over (partition by job_days.job_key) as n_candidates
    from job_days
    inner join contract_accounts
        on job_days.account = contract_accounts.account
       and job_days.match_day between contract_accounts.effective_from and contract_accounts.effective_to

),

final as (

    select
        job_days.job_key,
        job_days.match_day,
        candidates.contract_id,
        candidates.version_no,
        candidates.contract_version_key,
        coalesce(candidates.usage_area, 'unassigned') as usage_area,
        candidates.partner_id,
        candidates.partner_type,
        coalesce(candidates.is_company, false) as is_company,
        candidates.activity,
        coalesce(candidates.activity = 'economic', false) as is_economic_use,
        candidates.price_eur_per_gpu_hour,
        candidates.contract_ingest_id,
        coalesce(candidates.n_candidates, 0) as n_candidates

    from job_days
    left join candidates
        on job_days.job_key = candidates.job_key
       and candidates.match_rank = 1

)

select * from final
