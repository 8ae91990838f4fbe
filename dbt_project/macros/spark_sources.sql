{# On Spark, the raw tables are Parquet folders (MIMAMORI_PARQUET/<table>/): registered as tables of the
   schema `raw` before the models run (dbt_project.yml on-run-start). Nothing on DuckDB. #}
{% macro register_parquet_sources() -%}
    {%- if target.type == 'spark' and execute -%}
        {%- set root = env_var('MIMAMORI_PARQUET') -%}
        {%- do run_query('create database if not exists raw') -%}
        {%- for node in graph.sources.values() if node.schema == 'raw' -%}
            {%- do run_query("create table if not exists raw." ~ node.identifier ~ " using parquet location '"
                             ~ root ~ "/" ~ node.identifier ~ "'") -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{# Unit test fixtures on Spark: a list value ([E1, C1], []) written as array(...), the literal Spark reads
   (dbt-spark writes the list as ['E1', 'C1'], which Spark does not parse). Else as dbt-spark casts. #}
{% macro spark__safe_cast(field, type) -%}
    {%- if field is iterable and field is not string and field is not mapping -%}
    cast(array({% for v in field %}{{ dbt.string_literal(v) if v is string else v }}{% if not loop.last %}, {% endif %}{% endfor %}) as {{ type }})
    {%- elif field is string and type.lower().split('<')[0] in ('array', 'map', 'struct') -%}
    cast({{ field.strip('"').strip("'") }} as {{ type }})
    {%- else -%}
    cast({{ field }} as {{ type }})
    {%- endif -%}
{%- endmacro %}
