{# Long-format KPI rows from a wide relation with columns period_type, period, usage_area:
   one `select ... union all` branch per (kpi, expression, unit). #}
{% macro kpi_rows(relation, kpis) -%}
    {%- for kpi in kpis %}
    select
        period_type,
        period,
        usage_area,
        '{{ kpi[0] }}' as kpi,
        cast({{ kpi[1] }} as double) as value,
        '{{ kpi[2] }}' as unit
    from {{ relation }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
