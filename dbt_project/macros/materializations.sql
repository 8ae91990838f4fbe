{#-
  The table and view materialisations on DuckDB: one CREATE OR REPLACE inside the model's transaction.

  dbt-duckdb's own build a model under a temporary name, rename the old relation to a backup, rename the
  new one in, commit, then drop the backup: seven statements and a dozen macro calls a model, ≈ 50 ms of
  dbt's Python each (dbt's threads share one interpreter): 0.5–0.8 s of a fukuoka night's 31 models, in
  interleaved builds. DuckDB replaces a relation transactionally, so one statement does the
  same: a model whose SQL fails rolls back and leaves the previous relation and its rows, as before.
  A relation of the other kind (a model turned from a view into a table) is dropped in the same
  transaction. What these materialisations do not do, this project does not use: foreign keys and
  indexes, grants, Python models, enforced contracts (refused below, rather than ignored). The Spark
  target keeps dbt-spark's own (these are for adapter 'duckdb' only).
-#}

{% macro mimamori_replace_relation(kind) %}
  {%- if model['contract']['enforced'] -%}
    {{ exceptions.raise_compiler_error("mimamori's " ~ kind ~ " materialisation does not enforce contracts "
                                       ~ "(macros/materializations.sql): " ~ model['unique_id']) }}
  {%- endif -%}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set target_relation = this.incorporate(type=kind) -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  -- `BEGIN` happens here:
  {{ run_hooks(pre_hooks, inside_transaction=True) }}
  {%- if existing_relation is not none and existing_relation.type != kind %}
    {{ adapter.drop_relation(existing_relation) }}
  {%- endif %}
  {% call statement('main') -%}
    create or replace {{ kind }} {{ target_relation }} as (
      {{ compiled_code }}
    )
  {%- endcall %}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {% do persist_docs(target_relation, model) %}
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target_relation]}) }}
{% endmacro %}

{% materialization table, adapter='duckdb' %}
  {{ return(mimamori_replace_relation('table')) }}
{% endmaterialization %}

{% materialization view, adapter='duckdb' %}
  {{ return(mimamori_replace_relation('view')) }}
{% endmaterialization %}
