{# Custom schema names are used as they are (raw, staging, intermediate, marts), not prefixed
   with the target schema: the mart names are a promise to analysts. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
