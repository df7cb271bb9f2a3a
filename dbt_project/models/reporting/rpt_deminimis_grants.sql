-- Every de-minimis grant with aid (int_deminimis_grants: the signature of a contract with an
-- undertaking and each amendment that raised its aid value), for the notice the partner
-- statement gives the undertaking in writing (Reg. (EU) 2023/2831, art. 6 (1)). The statement
-- lists the grants of the partner's contracts in the rolling window of its undertaking's
-- position (reporting.rpt_deminimis).

with

grants as (

    select * from {{ ref('int_deminimis_grants') }}

),

final as (

    select
        grant_key,
        contract_id,
        version_no,
        version_no > 0 as is_amendment,
        partner_id,
        undertaking_id,
        granted_on,
        allotment_gpu_hours,
        list_price_eur_per_gpu_hour,
        price_eur_per_gpu_hour,
        version_aid_value_eur,
        aid_eur,
        rolling_total_eur,
        ceiling_eur,
        share_pct,
        status

    from grants
    where aid_eur > 0

)

select * from final
