{# Late-data window of the incremental GPU model (int_job_gpu_use_daily), in the shape of
   energy_window (so energy_in_window, energy_near_window and record_changed_days apply):
   none on a full build, {'empty': true} when nothing changed, else {'first': date, 'last': date}.

   Its rows store the ingest ids they were computed from (gpu_ingest_id: the newest GPU sample
   used; job_ingest_id: the job version), so a full refresh and an incremental run store the
   same rows. Deliveries after those watermarks touch:
     - GPU samples: the local days of the new samples;
     - GPU jobs: every local day spanned by any delivered version of an allocation with GPUs
       that has a new version (the old interval and the new one; another job on a node changes
       the shares of the approximate path);
   the window runs over those days as macro touched_days widens them (sample days by one on
   each side: a late sample changes the typical interval of the day before, a sample holds
   across midnight), as in energy_window. #}
{% macro gpu_window() %}
    {% if not execute or not is_incremental() %}
        {{ return(none) }}
    {% endif %}
    {% set query %}
        with
        new_samples as (
            select sample_at from {{ ref('stg_gpu__samples') }}
            where ingest_id > (select coalesce(max(gpu_ingest_id), 0) from {{ this }})
        ),
        new_jobs as (
            select start_at, coalesce(end_at, start_at + interval '1 second' * coalesce(elapsed_s, 0)) as end_at
            from {{ ref('stg_slurm__jobs') }}
            where not is_step and start_at is not null and job_key in (
                select job_key from {{ ref('stg_slurm__jobs') }}
                where not is_step and gpus > 0
                  and ingest_id > (select coalesce(max(job_ingest_id), 0) from {{ this }}))
        )
        select
            (select cast({{ local_date('min(sample_at)') }} as varchar) from new_samples),
            (select cast({{ local_date('max(sample_at)') }} as varchar) from new_samples),
            (select cast({{ local_date('min(start_at)') }} as varchar) from new_jobs),
            (select cast({{ local_date("max(greatest(start_at, end_at - interval '1 microsecond'))") }} as varchar)
             from new_jobs)
    {% endset %}
    {% set row = run_query(query).rows[0] %}
    {{ return(touched_days(row[0], row[1], row[2], row[3])) }}
{% endmacro %}

{# Pre-hook: delete the days the GPU model is about to recompute (and record them for the
   tests, macro record_changed_days). #}
{% macro gpu_delete_window() %}
    {% set window = gpu_window() %}
    {% do record_changed_days(window) %}
    {% if window is none or window.get('empty') %}
        select 1
    {% else %}
        delete from {{ this }}
        where day between date '{{ window.first }}' and date '{{ window.last }}'
    {% endif %}
{% endmacro %}
