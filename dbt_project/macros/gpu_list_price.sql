{# The GPU-hour list price in force on a day, for a contract whose hours may run on any
   partition: per partition the list_prices row with the latest valid_from on or before the
   day ('*' included), and the highest of those, so that a value or an aid derived from it is
   never understated. `relation` is a CTE with the columns `keys` and the day `as_of`; the
   result has the keys and list_price_eur_per_gpu_hour, one row per key (none where no price
   was in force yet). #}
{% macro gpu_list_price_as_of(relation, keys, as_of) -%}
    select
        {{ keys | join(', ') }},
        max(eur_per_unit) as list_price_eur_per_gpu_hour
    from (
        select
            {% for k in keys %}{{ relation }}.{{ k }}, {% endfor %}
            prices.eur_per_unit,
            row_number() over (
                partition by {% for k in keys %}{{ relation }}.{{ k }}, {% endfor %}prices.partition
                order by prices.valid_from desc
            ) as price_rank
        from {{ relation }}
        inner join {{ ref('list_prices') }} as prices
            on prices.unit = 'gpu_hour'
           and prices.valid_from <= {{ relation }}.{{ as_of }}
    ) as ranked
    where price_rank = 1
    group by {{ keys | join(', ') }}
{%- endmacro %}
