{# Late-data window of the incremental energy models.

   The watermark is the highest ingest_id of the power samples stored in the model itself
   (column max_ingest_id), so a full refresh and an incremental run store identical rows.
   Samples ingested after it touch a set of local days; the model recomputes the contiguous
   range of local days from the first touched day minus var('late_window_days') (at least 1:
   a late sample can change the typical sampling interval of the day before) to the last
   touched day plus 1 (a sample held across midnight reaches into the next day). #}

{# [first_day, last_day] as dates of the local days to recompute, or none when the model is
   built from scratch (full refresh) or while dbt only parses. [none, none] means no new samples. #}
{% macro energy_recompute_days(samples_relation) %}
    {% if not execute or not is_incremental() %}
        {{ return(none) }}
    {% endif %}
    {% set query %}
        select
            cast(min({{ local_date('sample_at') }}) as varchar) as first_day,
            cast(max({{ local_date('sample_at') }}) as varchar) as last_day
        from {{ samples_relation }}
        where ingest_id > (select coalesce(max(max_ingest_id), 0) from {{ this }})
    {% endset %}
    {% set row = run_query(query).rows[0] %}
    {% if row[0] is none %}
        {{ return([none, none]) }}
    {% endif %}
    {% set late = [var('late_window_days') | int, 1] | max %}
    {% set first_day = modules.datetime.date.fromisoformat(row[0]) - modules.datetime.timedelta(days=late) %}
    {% set last_day = modules.datetime.date.fromisoformat(row[1]) + modules.datetime.timedelta(days=1) %}
    {{ return([first_day, last_day]) }}
{% endmacro %}

{# UTC midnight `offset_days` after `day` (a date), as a timestamptz literal. #}
{% macro energy_utc_midnight(day, offset_days) -%}
    timestamptz '{{ (day + modules.datetime.timedelta(days=offset_days)).isoformat() }} 00:00:00+00'
{%- endmacro %}
