-- Slurm accounting records as delivered (allocations and steps, every delivered version),
-- renamed and typed; the latest version of each allocation is picked in int_jobs_resolved.

with

source as (

    select * from {{ source('raw', 'slurm_jobs') }}

),

renamed as (

    select
        cluster || ':' || allocation_id as job_key,
        cluster,
        job_id as job_id_delivered,
        job_id_raw,
        allocation_id,
        step_id,
        coalesce(is_step, false) as is_step,
        array_job_id,
        array_task_id,
        het_job_id,
        het_job_offset,
        job_name,
        user_pseudonym,
        account,
        partition,
        qos,
        upper(state) as state,
        state_raw,
        cancelled_by_uid,
        exit_code,
        submit_at,
        start_at,
        end_at,
        cast(elapsed_s as bigint) as elapsed_s,
        cast(nnodes as integer) as nnodes,
        cast(ncpus as integer) as ncpus,
        cast(coalesce(gpus, 0) as integer) as gpus,
        mem_mb,
        alloc_tres,
        node_list,
        nodes,
        consumed_energy_j,
        gpu_util_ave_pct,
        ingest_id,
        source_file,
        file_sha256,
        line_no,
        received_at

    from source

),

final as (

    select * from renamed

)

select * from final
