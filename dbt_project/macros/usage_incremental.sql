{# Helpers for the incremental usage models. Watermarks are read from the model's own rows
   (lineage columns holding the ingest_id of the job version / contract delivery each row was
   computed from), so a full refresh and an incremental run store identical rows. #}

{# Highest value of `column` stored in the model (-1 when empty). #}
{% macro stored_watermark(column) -%}
    (select coalesce(max({{ column }}), -1) from {{ this }})
{%- endmacro %}

{# Pre-hook for job-keyed models: a job whose latest version has no usage any more (it now
   reads as never started) has no rows in the new batch, so delete+insert alone would keep
   its old rows. #}
{% macro delete_jobs_without_usage() -%}
    {% if is_incremental() %}
    delete from {{ this }}
    where job_key in (
        select job_key from {{ ref('int_jobs_resolved') }} where start_at is null
    )
    {% endif %}
{%- endmacro %}
