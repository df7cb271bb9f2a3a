-- One row per contract: its current version (the last amendment of the latest delivery),
-- with partner, region, funders and the number of versions.

with

versions as (

    select * from {{ ref('stg_contracts__versions') }}

),

revier as (

    select * from {{ ref('revier_nuts3') }}

),

ranked as (

    select
        *,
        row_number() over (partition by contract_id order by version_no desc) as version_rank,
        count(*) over (partition by contract_id) as n_versions,
        min(effective_from) over (partition by contract_id) as first_effective_from
    from versions

),

current_version as (

    select * from ranked
    where version_rank = 1

),

final as (

    select
        current_version.contract_id,
        current_version.version_no as current_version_no,
        current_version.n_versions,
        current_version.partner_id,
        current_version.partner_name,
        current_version.is_partner_confidential,
        current_version.partner_type,
        current_version.partner_nuts3,
        revier.nuts3 is not null as is_revier,
        current_version.usage_area,
        current_version.funders,
        current_version.accounts,
        coalesce(current_version.valid_from, current_version.first_effective_from) as valid_from,
        current_version.valid_to,
        current_version.effective_from as current_version_from,
        current_version.gpu_hours_allocated,
        current_version.price_eur_per_gpu_hour,
        current_version.jobs_created,
        current_version.trainees,
        current_version.ingest_id,
        current_version.received_at

    from current_version
    left join revier
        on current_version.partner_nuts3 = revier.nuts3

)

select * from final
