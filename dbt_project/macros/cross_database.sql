{# SQL that differs between engines, written once per engine through adapter.dispatch (dbt's own
   cross-database macros cover the rest). The models call these, never an engine's own function. #}

{# date + n days, as a date #}
{% macro add_days(date_expression, days) -%}
    {{ return(adapter.dispatch('add_days', 'mimamori')(date_expression, days)) }}
{%- endmacro %}

{% macro default__add_days(date_expression, days) -%}
    cast({{ date_expression }} + interval ({{ days }}) day as date)
{%- endmacro %}

{# the elements of list a that are not in list b, in a's order #}
{% macro list_except(a, b) -%}
    {{ return(adapter.dispatch('list_except', 'mimamori')(a, b)) }}
{%- endmacro %}

{% macro default__list_except(a, b) -%}
    list_filter({{ a }}, lambda s: not list_contains(coalesce({{ b }}, []), s))
{%- endmacro %}

{# whole days from a date to T (0 on T itself); null for a null date #}
{% macro days_before_as_of(date_expression) -%}
    {{ return(adapter.dispatch('days_before_as_of', 'mimamori')(date_expression)) }}
{%- endmacro %}

{% macro default__days_before_as_of(date_expression) -%}
    datediff('day', {{ date_expression }}, {{ as_of() }})
{%- endmacro %}
