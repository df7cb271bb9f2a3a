{# Local calendar helpers: days, months and quarters are cut in var('timezone'), while every
   *_at column is a UTC timestamptz. A local day can be 23, 24 or 25 hours long. #}

{% macro local_date(ts) -%}
    cast(timezone('{{ var("timezone") }}', {{ ts }}) as date)
{%- endmacro %}

{# UTC instant at which the local day `day` begins. #}
{% macro local_day_start(day) -%}
    timezone('{{ var("timezone") }}', cast({{ day }} as timestamp))
{%- endmacro %}

{# UTC instant at which the local day `day` ends (= start of the next day). #}
{% macro local_day_end(day) -%}
    timezone('{{ var("timezone") }}', cast({{ day }} as timestamp) + interval '1 day')
{%- endmacro %}

{% macro seconds_between(start_ts, end_ts) -%}
    (epoch({{ end_ts }}) - epoch({{ start_ts }}))
{%- endmacro %}
