{# DuckDB: the models are written to the restricted store attached as `restricted` (the lab's to `lab`).
   Spark has no catalogs: no database at all. #}
{% macro generate_database_name(custom_database_name=none, node=none) -%}
    {%- if target.type != 'duckdb' -%}
        {{ return(none) }}
    {%- endif -%}
    {{ custom_database_name or 'restricted' }}
{%- endmacro %}
