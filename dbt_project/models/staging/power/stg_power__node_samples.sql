-- Node power samples as delivered (every delivery of every sample), renamed and typed.
-- Exact duplicates (same node and sample_at) are resolved in int_node_minute_energy, inside
-- the one ordered pass over the samples, so that the big table is sorted only once.

with

source as (

    select * from {{ source('raw', 'node_power') }}

),

renamed as (

    select
        node,
        sample_at,
        cast(watts as double) as watts,
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
