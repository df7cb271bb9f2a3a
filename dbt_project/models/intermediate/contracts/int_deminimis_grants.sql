-- De-minimis aid granted to undertakings (partner type in var company_partner_types), one row
-- per grant: the signature of a contract (version 0) and each of its amendments. Aid is
-- granted when the legal right is conferred: at signature the allotment is worth
-- allotment x max(list price - contract price, 0); an amendment whose version is worth more
-- than every earlier version of the contract grants the difference at its effective date.
-- Each grant is checked against the ceiling over the single undertaking's rolling window
-- (var deminimis_window_years, in exact days) plus the aid it declared from elsewhere.

{%- set company_types = var('company_partner_types') %}
{%- set ceiling = var('deminimis_ceiling_eur') %}
{%- set warn_share = var('warn_share') %}
{%- set window_years = var('deminimis_window_years') %}

with

versions as (

    select * from {{ ref('stg_contracts__versions') }}

),

undertaking_versions as (

    select
        *,
        -- an amendment cannot confer a right before the contract is signed
        case
            when version_no = 0 then signed_on
            else greatest(effective_from, signed_on)
        end as granted_on
    from versions
    where partner_type in ('{{ company_types | join("', '") }}')

),

-- a contract buys GPU-hours on any partition: its allotment is valued at the GPU-hour list price
-- in force at signature (macro gpu_list_price_as_of: the highest partition's), so the aid is
-- never understated
list_priced as (

    {{ gpu_list_price_as_of('undertaking_versions', ['contract_version_key'], 'signed_on') }}

),

valued as (

    select
        undertaking_versions.*,
        list_priced.list_price_eur_per_gpu_hour,
        coalesce(undertaking_versions.gpu_hours_allocated, 0) * greatest(
            coalesce(list_priced.list_price_eur_per_gpu_hour, 0)
            - coalesce(undertaking_versions.price_eur_per_gpu_hour, 0),
            0
        ) as version_aid_value_eur
    from undertaking_versions
    left join list_priced
        on undertaking_versions.contract_version_key = list_priced.contract_version_key

),

granted as (

    select
        *,
        greatest(
            version_aid_value_eur - coalesce(
                max(version_aid_value_eur) over (
                    partition by contract_id
                    order by version_no
                    rows between unbounded preceding and 1 preceding
                ),
                0
            ),
            0
        ) as aid_eur,
        -- declared per contract; one undertaking counts its highest declaration once
        max(other_deminimis_eur) over (partition by undertaking_id) as undertaking_other_deminimis_eur
    from valued

),

-- aid of the same undertaking granted in (granted_on - window, granted_on], exact days
in_window as (

    select
        granted.contract_version_key,
        sum(earlier.aid_eur) as aid_in_window_eur
    from granted
    inner join granted as earlier
        on earlier.undertaking_id = granted.undertaking_id
       and earlier.granted_on > granted.granted_on - interval ({{ window_years }}) year
       and earlier.granted_on <= granted.granted_on
    group by granted.contract_version_key

),

totals as (

    select
        granted.*,
        in_window.aid_in_window_eur + granted.undertaking_other_deminimis_eur as rolling_total_eur
    from granted
    inner join in_window
        on granted.contract_version_key = in_window.contract_version_key

),

final as (

    select
        contract_version_key as grant_key,
        contract_id,
        version_no,
        partner_id,
        undertaking_id,
        granted_on,
        gpu_hours_allocated as allotment_gpu_hours,
        list_price_eur_per_gpu_hour,
        price_eur_per_gpu_hour,
        version_aid_value_eur,
        aid_eur,
        undertaking_other_deminimis_eur as other_deminimis_eur,
        rolling_total_eur,
        cast({{ ceiling }} as double) as ceiling_eur,
        100.0 * rolling_total_eur / {{ ceiling }} as share_pct,
        case
            when rolling_total_eur > {{ ceiling }} then 'exceeded'
            when rolling_total_eur >= {{ warn_share }} * {{ ceiling }} then 'warning'
            else 'ok'
        end as status

    from totals

)

select * from final
