{# Children are under 18 on T. #}
{% test accepted_range_0_17(model, column_name) %}
select * from {{ model }} where {{ column_name }} < 0 or {{ column_name }} > 17
{% endtest %}
