{# Uniqueness of a combination of columns (what dbt_utils.unique_combination_of_columns does; no packages here). #}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
