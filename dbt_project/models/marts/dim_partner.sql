-- One row per partner, described by its most recent contract version (latest effective_from
-- across its contracts), with region (NUTS-3 code and its name from the nuts3_regions seed,
-- whether seated in the Revier), type, the usage areas and funders of all its contracts, and
-- its first day of usage.

with

versions as (

    select * from {{ ref('stg_contracts__versions') }}

),

revier as (

    select * from {{ ref('revier_nuts3') }}

),

regions as (

    select * from {{ ref('nuts3_regions') }}

),

partner_types as (

    select * from {{ ref('partner_types') }}

),

usage_daily as (

    select * from {{ ref('int_job_usage_daily') }}

),

contracted as (

    select * from {{ ref('int_jobs_contracted') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by partner_id
            order by effective_from desc, contract_id desc, version_no desc
        ) as recency_rank
    from versions

),

latest as (

    select * from ranked
    where recency_rank = 1

),

per_partner as (

    select
        partner_id,
        count(distinct contract_id) as n_contracts,
        list_sort(list_distinct(list(usage_area))) as usage_areas,
        list_sort(list_distinct(flatten(list(coalesce(funders, [])))) ) as funders
    from versions
    group by partner_id

),

first_usage as (

    select
        contracted.partner_id,
        min(usage_daily.day) as first_usage_day
    from usage_daily
    inner join contracted
        on usage_daily.job_key = contracted.job_key
    where contracted.partner_id is not null
    group by contracted.partner_id

),

final as (

    select
        latest.partner_id,
        latest.partner_name,
        latest.is_partner_confidential as is_confidential,
        latest.partner_type,
        coalesce(partner_types.partner_type in ('{{ var("company_partner_types") | join("', '") }}'), false) as is_company,
        latest.partner_postcode as postcode,
        latest.partner_nuts3 as nuts3,
        regions.name as region_name,
        regions.state as region_state,
        revier.nuts3 is not null as is_revier,
        per_partner.n_contracts,
        per_partner.usage_areas,
        per_partner.funders,
        first_usage.first_usage_day

    from latest
    inner join per_partner
        on latest.partner_id = per_partner.partner_id
    left join revier
        on latest.partner_nuts3 = revier.nuts3
    left join regions
        on latest.partner_nuts3 = regions.nuts3
    left join partner_types
        on latest.partner_type = partner_types.partner_type
    left join first_usage
        on latest.partner_id = first_usage.partner_id

)

select * from final
