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

{# The local day of each UTC quarter-hour from the first to the last minute of `relation`
   (column `minute_col`, epoch minutes), as rows (quarter_no, day): join on
   minute_no // 15 = quarter_no. Time zone offsets are whole quarter-hours, so this is one
   time zone conversion per quarter-hour instead of one per row. #}
{% macro quarter_hour_days(relation, minute_col='minute_no') -%}
    select
        quarter_no,
        {{ local_date('make_timestamptz(quarter_no * 900000000)') }} as day
    from range(
        (select min({{ minute_col }}) // 15 from {{ relation }}),
        (select max({{ minute_col }}) // 15 + 1 from {{ relation }})
    ) as quarters(quarter_no)
{%- endmacro %}
