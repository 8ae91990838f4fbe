{# The lists of earlier nights, read through their relations, not ref(): they are written after tonight's
   list, from it. On a first night (no history yet) they are empty. #}

{% macro _history_relation(identifier) -%}
    {{ return(adapter.get_relation(database=this.database, schema='marts', identifier=identifier)) }}
{%- endmacro %}

{# The as-of date of the newest run before T (none on the first night), and who was on its list. #}
{% macro previous_flag_list() -%}
    {%- set runs = _history_relation('flag_list_runs') -%}
    {%- set history = _history_relation('flag_list_history') -%}
    {%- if runs and history -%}
    select h.address_code
    from {{ history }} as h
    where h.as_of = (select max(as_of) from {{ runs }} where as_of < {{ as_of() }})
    {%- else -%}
    select cast(null as {{ dbt.type_string() }}) as address_code where false
    {%- endif -%}
{%- endmacro %}
