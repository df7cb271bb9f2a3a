{# Generic test: the combination of `columns` identifies each row (a composite primary key).
   Fails with one row per duplicated combination. #}
{% test unique_combination(model, columns) %}

select
    {{ columns | join(', ') }},
    count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}
