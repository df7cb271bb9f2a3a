-- The certificate ledger items of each year, from the latest delivery of that year's ledger
-- (a corrected ledger is delivered whole and replaces the earlier one).

with

source as (

    select * from {{ source('raw', 'certificates') }}

),

latest as (

    select * from source
    qualify ingest_id = max(ingest_id) over (partition by year)

),

renamed as (

    select
        cast(year as varchar) || '|' || cast(item_no as varchar) as item_key,
        cast(year as integer) as year,
        cast(item_no as integer) as item_no,
        lower(kind) as kind,
        cast(kwh as double) as kwh,
        certificate_id,
        issuer,
        technology,
        cast(cancelled_on as date) as cancelled_on,
        is_unsubsidised,
        counterparty,
        meter_id,
        ingest_id,
        line_no,
        source_file,
        received_at

    from latest

),

final as (

    select * from renamed

)

select * from final
