-- The amounts of a partner's statement per report period: the sums of its contract lines in
-- reporting.rpt_contract_period (net amount in cents, VAT at var('vat_rate') rounded per line,
-- gross), so that every total the statement prints is the sum of the lines it prints.

with

contract_lines as (

    select * from {{ ref('rpt_contract_period') }}

),

final as (

    select
        partner_id || '|' || period_type || '|' || period as partner_amounts_key,
        partner_id,
        period_type,
        period,
        period_start,
        period_end,
        cast(count(*) as integer) as contracts,
        max(vat_rate) as vat_rate,
        sum(net_eur) as net_eur,
        sum(vat_eur) as vat_eur,
        sum(gross_eur) as gross_eur

    from contract_lines
    where partner_id is not null
    group by partner_id, period_type, period, period_start, period_end

)

select * from final
