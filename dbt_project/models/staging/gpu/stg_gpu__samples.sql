-- GPU samples of the DCGM exporter as delivered (every delivery of every sample), renamed and
-- typed. A file of one pulled query holds one metric, so the metrics of a GPU and instant may
-- arrive in several rows; int_gpu_samples_resolved combines them (latest delivery per metric).

with

source as (

    select * from {{ source('raw', 'gpu_samples') }}

),

renamed as (

    select
        node,
        cast(gpu_index as integer) as gpu_index,
        sample_at,
        nullif(hpc_job, '') as hpc_job,
        uuid as gpu_uuid,
        model as gpu_model,
        cast(util_pct as double) as util_pct,
        cast(power_w as double) as power_w,
        cast(fb_used_mib as double) as fb_used_mib,
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
