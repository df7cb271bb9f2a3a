{# Two sides of a conservation check disagree when |a - b| > var('conservation_tolerance') x
   max(1, |a|, |b|): one tolerance for every dbt test and the GX suite marts.conservation. #}
{% macro conservation_violated(a, b) -%}
    (abs(({{ a }}) - ({{ b }})) > {{ var('conservation_tolerance') }} * greatest(1, abs({{ a }}), abs({{ b }})))
{%- endmacro %}

{# a exceeds b beyond the tolerance (a one-sided bound, e.g. node energy within the IT meter) #}
{% macro conservation_exceeds(a, b) -%}
    (({{ a }}) - ({{ b }}) > {{ var('conservation_tolerance') }} * greatest(1, abs({{ b }})))
{%- endmacro %}
