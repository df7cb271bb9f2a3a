-- One row per contract version and Slurm account: which account belongs to which contract
-- version on which local days (effective range clipped to the contract's validity), with the
-- contract's activity (economic or not) and whether its partner is an undertaking (partner
-- type in var company_partner_types).

{%- set company_types = var('company_partner_types') %}

with

versions as (

    select * from {{ ref('stg_contracts__versions') }}

),

per_account as (

    select
        versions.*,
        unnest(versions.accounts) as account
    from versions

),

final as (

    select
        per_account.contract_version_key || '@' || per_account.account as contract_account_key,
        per_account.account,
        per_account.contract_id,
        per_account.version_no,
        per_account.contract_version_key,
        greatest(per_account.effective_from, coalesce(per_account.valid_from, per_account.effective_from))
            as effective_from,
        least(
            coalesce(per_account.effective_to, date '9999-12-31'),
            coalesce(per_account.valid_to, date '9999-12-31')
        ) as effective_to,
        per_account.usage_area,
        per_account.partner_id,
        per_account.partner_type,
        coalesce(per_account.partner_type in ('{{ company_types | join("', '") }}'), false) as is_company,
        per_account.activity,
        per_account.price_eur_per_gpu_hour,
        per_account.gpu_hours_allocated,
        per_account.ingest_id as contract_ingest_id

    from per_account
    where per_account.account is not null

)

select * from final
