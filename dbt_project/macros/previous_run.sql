{# The as-of date of the newest run before T, from flag_list_runs (none on the first night). The history
   is read through the relation, not ref(): it is written after the list, from the list. #}
{% macro previous_flag_list() -%}
    {%- set runs = adapter.get_relation(database=this.database, schema=this.schema, identifier='flag_list_runs') -%}
    {%- set history = adapter.get_relation(database=this.database, schema=this.schema, identifier='flag_list_history') -%}
    {%- if runs and history -%}
    select h.address_code
    from {{ history }} as h
    where h.as_of = (select max(as_of) from {{ runs }} where as_of < {{ as_of() }})
    {%- else -%}
    select cast(null as varchar) as address_code where false
    {%- endif -%}
{%- endmacro %}
