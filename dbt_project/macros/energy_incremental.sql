{# Late-data window of the incremental energy models.

   Each model stores, on every row, the ingest ids its figures were computed from (power_ingest_id,
   and where it applies job_ingest_id and inventory_ingest_id); its watermarks are their maxima,
   so a full refresh and an incremental run store identical rows. Deliveries ingested after a
   watermark touch a set of local days:
     - power samples: the local days of the new samples;
     - jobs: every local day spanned by any delivered version of an allocation that has a new
       version (the old interval and the new one);
     - inventory: a new node inventory changes weights and estimates everywhere: all days.
   The model recomputes the contiguous range of local days from the first touched day to the
   last (macro touched_days), after deleting that range (pre-hook), so that a day left with no
   rows does not keep stale ones. The pre-hook's delete is the only one: the models append what
   they compute (incremental_strategy 'append'). A sample however late is recomputed from its
   own day, so incremental and full builds stay identical, and a night that delivers one day
   recomputes that day and its neighbours, however long the history. #}

{# The days a delivery touches, as a window: the local days of new samples widened by one day
   on each side (a new sample can change the typical sampling interval of the UTC day it
   shares with the day before, and the hold and quality of that day's last sample; a sample
   held across midnight reaches into the next day); the local days of new job versions as they
   are (a job's interval ends where it ends). Arguments are ISO dates or none. #}
{% macro touched_days(samples_first, samples_last, jobs_first, jobs_last) %}
    {% set d = modules.datetime.date.fromisoformat %}
    {% set one = modules.datetime.timedelta(days=1) %}
    {% set firsts, lasts = [], [] %}
    {% if samples_first is not none %}
        {% do firsts.append(d(samples_first) - one) %}
        {% do lasts.append(d(samples_last) + one) %}
    {% endif %}
    {% if jobs_first is not none %}
        {% do firsts.append(d(jobs_first)) %}
        {% do lasts.append(d(jobs_last)) %}
    {% endif %}
    {% if firsts | length == 0 %}
        {{ return({'empty': true}) }}
    {% endif %}
    {{ return({'first': firsts | min, 'last': lasts | max}) }}
{% endmacro %}

{# The window as a dict: none on a full build (or while dbt only parses); otherwise
   {'all': true} for everything, {'empty': true} when nothing changed, or
   {'first': date, 'last': date}. #}
{% macro energy_window(power=true, jobs=false, inventory=false) %}
    {% if not execute or not is_incremental() %}
        {{ return(none) }}
    {% endif %}
    {% set query %}
        select
            {% if power %}
            -- local days grow with UTC time: the days of the first and last instants
            (select cast({{ local_date('min(sample_at)') }} as varchar)
             from {{ ref('stg_power__node_samples') }}
             where ingest_id > (select coalesce(max(power_ingest_id), 0) from {{ this }})),
            (select cast({{ local_date('max(sample_at)') }} as varchar)
             from {{ ref('stg_power__node_samples') }}
             where ingest_id > (select coalesce(max(power_ingest_id), 0) from {{ this }})),
            {% else %}
            null, null,
            {% endif %}
            {% if jobs %}
            (select cast({{ local_date('min(start_at)') }} as varchar)
             from {{ ref('stg_slurm__jobs') }}
             where not is_step and start_at is not null and job_key in (
                 select job_key from {{ ref('stg_slurm__jobs') }}
                 where ingest_id > (select coalesce(max(job_ingest_id), 0) from {{ this }}))),
            (select cast({{ local_date("max(greatest(start_at, coalesce(end_at, start_at + interval '1 second' * coalesce(elapsed_s, 0)) - interval '1 microsecond'))") }} as varchar)
             from {{ ref('stg_slurm__jobs') }}
             where not is_step and start_at is not null and job_key in (
                 select job_key from {{ ref('stg_slurm__jobs') }}
                 where ingest_id > (select coalesce(max(job_ingest_id), 0) from {{ this }}))),
            {% else %}
            null, null,
            {% endif %}
            {% if inventory %}
            (select count(*) from {{ ref('stg_inventory__nodes') }}
             where ingest_id > (select coalesce(max(inventory_ingest_id), 0) from {{ this }}))
            {% else %}
            0
            {% endif %}
    {% endset %}
    {% set row = run_query(query).rows[0] %}
    {% if row[4] > 0 %}
        {{ return({'all': true}) }}
    {% endif %}
    {{ return(touched_days(row[0], row[1], row[2], row[3])) }}
{% endmacro %}

{# Pre-hook: delete the days the model is about to recompute (and record them for the tests,
   macro record_changed_days). #}
{% macro energy_delete_window(power=true, jobs=false, inventory=false) %}
    {% set window = energy_window(power=power, jobs=jobs, inventory=inventory) %}
    {% do record_changed_days(window) %}
    {% if window is none or window.get('empty') %}
        select 1
    {% elif window.get('all') %}
        delete from {{ this }}
    {% else %}
        delete from {{ this }}
        where day between date '{{ window.first }}' and date '{{ window.last }}'
    {% endif %}
{% endmacro %}

{# SQL condition keeping `day_expr` inside the window (true on full builds). #}
{% macro energy_in_window(window, day_expr) -%}
    {%- if window is none or window.get('all') -%}
        true
    {%- elif window.get('empty') -%}
        false
    {%- else -%}
        {{ day_expr }} between date '{{ window.first }}' and date '{{ window.last }}'
    {%- endif -%}
{%- endmacro %}

{# SQL condition keeping timestamps `ts_expr` from `before_days` before the window's first
   local day (as UTC midnight) to `after_days` after its last (true on full builds). #}
{% macro energy_near_window(window, ts_expr, before_days, after_days) -%}
    {%- if window is none or window.get('all') -%}
        true
    {%- elif window.get('empty') -%}
        false
    {%- else -%}
        {{ ts_expr }} >= timestamptz '{{ (window.first - modules.datetime.timedelta(days=before_days)).isoformat() }} 00:00:00+00'
        and {{ ts_expr }} < timestamptz '{{ (window.last + modules.datetime.timedelta(days=after_days)).isoformat() }} 00:00:00+00'
    {%- endif -%}
{%- endmacro %}

{# Tests of the incremental energy models check the days this invocation recomputed, not the
   whole history, so that a nightly run costs the same on a year of history as on a week.
   Each model's pre-hook records its window in audit.transform_changed_days under dbt's
   invocation_id; changed_days() turns the records of the current invocation into a condition
   on a local-day column:
     - no record (a `dbt test` on its own, or the model was not built): true, test everything;
     - a full build or a recompute of all days: true;
     - nothing recomputed: false;
     - otherwise the union of the recomputed ranges (first to last day).
   Generic tests use it through their `where` config: the placeholder __changed_days__ is
   replaced at run time (macro get_where_subquery). #}
{% macro record_changed_days(window) %}
    {% if not execute %}
        {{ return(none) }}
    {% endif %}
    {% if window is none %}
        {% set kind, first_day, last_day = 'full', 'null', 'null' %}
    {% elif window.get('all') %}
        {% set kind, first_day, last_day = 'all', 'null', 'null' %}
    {% elif window.get('empty') %}
        {% set kind, first_day, last_day = 'empty', 'null', 'null' %}
    {% else %}
        {% set kind = 'days' %}
        {% set first_day = "date '" ~ window.first ~ "'" %}
        {% set last_day = "date '" ~ window.last ~ "'" %}
    {% endif %}
    {% set statement %}
        create schema if not exists audit;
        create table if not exists audit.transform_changed_days (
            invocation_id varchar not null,
            model varchar not null,
            kind varchar not null,
            first_day date,
            last_day date,
            recorded_at timestamptz not null default current_timestamp
        );
        delete from audit.transform_changed_days
        where recorded_at < current_timestamp - interval '30 days';
        insert into audit.transform_changed_days (invocation_id, model, kind, first_day, last_day)
        values ('{{ invocation_id }}', '{{ this.identifier }}', '{{ kind }}', {{ first_day }}, {{ last_day }});
    {% endset %}
    {% do run_query(statement) %}
{% endmacro %}

{% macro changed_days(day_expr='day') %}
    {% if not execute %}
        {{ return('true') }}
    {% endif %}
    {% set exists = run_query(
        "select count(*) from information_schema.tables "
        ~ "where table_schema = 'audit' and table_name = 'transform_changed_days'"
    ).rows[0][0] %}
    {% if exists == 0 %}
        {{ return('true') }}
    {% endif %}
    {% set row = run_query(
        "select count(*), count(*) filter (where kind in ('full', 'all')), "
        ~ "count(*) filter (where kind = 'days'), "
        ~ "cast(min(first_day) as varchar), cast(max(last_day) as varchar) "
        ~ "from audit.transform_changed_days where invocation_id = '" ~ invocation_id ~ "'"
    ).rows[0] %}
    {% if row[0] == 0 or row[1] > 0 %}
        {{ return('true') }}
    {% elif row[2] == 0 %}
        {{ return('false') }}
    {% endif %}
    {{ return(day_expr ~ " between date '" ~ row[3] ~ "' and date '" ~ row[4] ~ "'") }}
{% endmacro %}

{# dbt's get_where_subquery, with the placeholder __changed_days__ in a test's `where` config
   replaced by changed_days('day') at run time. #}
{% macro get_where_subquery(relation) -%}
    {% set where = config.get('where', '') %}
    {% if where %}
        {% if '__changed_days__' in where %}
            {% set where = where | replace('__changed_days__', changed_days('day')) %}
        {% endif %}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {% do return(filtered) %}
    {%- else -%}
        {% do return(relation) %}
    {%- endif -%}
{%- endmacro %}
