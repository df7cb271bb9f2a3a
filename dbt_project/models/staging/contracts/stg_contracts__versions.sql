-- Partner contract versions of the latest delivery of each contract: a re-delivered contract
-- file (with a new or withdrawn amendment) replaces every version of the earlier delivery.

with

source as (

    select * from {{ source('raw', 'contract_versions') }}

),

ranked as (

    select
        *,
        max(ingest_id) over (partition by contract_id) as latest_ingest_id,
        row_number() over (
            partition by contract_id, ingest_id, version_no
            order by line_no desc
        ) as line_rank
    from source

),

latest_delivery as (

    select * from ranked
    where ingest_id = latest_ingest_id
      and line_rank = 1

),

final as (

    select
        contract_id || '#v' || cast(version_no as varchar) as contract_version_key,
        contract_id,
        cast(version_no as integer) as version_no,
        effective_from,
        effective_to,
        valid_from,
        valid_to,
        partner_id,
        partner_name,
        lower(partner_type) as partner_type,
        partner_postcode,
        upper(partner_nuts3) as partner_nuts3,
        coalesce(partner_confidential, false) as is_partner_confidential,
        lower(usage_area) as usage_area,
        funders,
        accounts,
        gpu_hours_allocated,
        price_eur_per_gpu_hour,
        coalesce(jobs_created, 0) as jobs_created,
        coalesce(trainees, 0) as trainees,
        -- state aid; rows ingested before these fields existed take the contract defaults
        lower(coalesce(activity, 'non_economic')) as activity,
        coalesce(signed_on, valid_from) as signed_on,
        coalesce(partner_group, partner_id) as undertaking_id,
        coalesce(other_deminimis_eur, 0) as other_deminimis_eur,
        ingest_id,
        source_file,
        line_no,
        received_at

    from latest_delivery

)

select * from final
