-- Facility meter registers (cumulative kWh) as delivered, renamed and typed. Duplicates,
-- counter resets and rollovers are handled in int_meter_deltas.

with

source as (

    select * from {{ source('raw', 'meter_readings') }}

),

renamed as (

    select
        meter_id,
        reading_at,
        cast(kwh as double) as register_kwh,
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
