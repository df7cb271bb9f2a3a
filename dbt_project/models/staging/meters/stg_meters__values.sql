-- Readings of the meters not read in kWh, as delivered, renamed and typed: water registers
-- (cumulative m3) and temperatures (degC). The unit is the meter's in the inventory; duplicates
-- and register resets are handled in int_meter_values_daily.

with

source as (

    select * from {{ source('raw', 'meter_values') }}

),

renamed as (

    select
        meter_id,
        reading_at,
        cast(value as double) as value,
        ingest_id,
        line_no,
        source_file,
        received_at

    from source

),

final as (

    select * from renamed

)

select * from final
