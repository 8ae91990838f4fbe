{# The rule set comes as vars (config/rules.yml); the run's as-of date T from MIMAMORI_AS_OF, read only
   when executing, so that a new date each night does not force dbt to re-parse the project
   (pipelines/defs/linkage/vars.py). #}

{% macro as_of() -%}
    {%- if execute -%}
    cast('{{ env_var("MIMAMORI_AS_OF") }}' as date)
    {%- else -%}
    cast(null as date)
    {%- endif -%}
{%- endmacro %}

{% macro rule(signal, key) -%}
    {{ var('rules')['signals'][signal][key] }}
{%- endmacro %}

{% macro rule_values(signal, key) -%}
    ({% for v in var('rules')['signals'][signal][key] %}'{{ v }}'{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}

{% macro signal_label(signal) -%}
    '{{ signal }} {{ var("rules")["signals"][signal]["label"] }}'
{%- endmacro %}

{# "Within N days" of flag-rules.md: T − N < date ≤ T. #}
{% macro within_days(column, days) -%}
    ({{ column }} > {{ as_of() }} - interval ({{ days }}) day and {{ column }} <= {{ as_of() }})
{%- endmacro %}

{# Completed years on T (a person born on 2008-11-24 is 18 on 2026-11-24). #}
{% macro age_on(birth_date, on_date) -%}
    date_sub('year', {{ birth_date }}, {{ on_date }})
{%- endmacro %}

{# A programme record is ongoing on T when 開始日 ≤ T and (終了日 is empty or 終了日 ≥ T). #}
{% macro is_ongoing(start_date, end_date) -%}
    ({{ start_date }} <= {{ as_of() }} and ({{ end_date }} is null or {{ end_date }} >= {{ as_of() }}))
{%- endmacro %}

{# Japanese date for reasons: 2026-08-03 #}
{% macro ymd(column) -%}
    strftime({{ column }}, '%Y-%m-%d')
{%- endmacro %}

{# The support office of a 町丁目コード, from config/offices.yml: the first office with a matching prefix,
   else the default office. field is "code" or "name". #}
{% macro office_for(area_code, field) -%}
    {%- set cfg = var('offices') -%}
    {%- set default = cfg.get('default_office', {}) -%}
    case
    {%- for office in cfg.get('offices', []) %}
        when {% for prefix in office['areas'] %}starts_with({{ area_code }}, '{{ prefix }}'){% if not loop.last %} or {% endif %}{% endfor %} then '{{ office[field] }}'
    {%- endfor %}
        when true then '{{ default.get(field, "00" if field == "code" else "こども家庭センター") }}'
    end
{%- endmacro %}

{# True only when offices are configured and none covers the area (then the summary says so). #}
{% macro office_is_default(area_code) -%}
    {%- set cfg = var('offices') -%}
    {{ 'false and ' if not cfg.get('offices') else '' }}not ({% for office in cfg.get('offices', []) %}{% for prefix in office['areas'] %}starts_with({{ area_code }}, '{{ prefix }}') or {% endfor %}{% endfor %}false)
{%- endmacro %}

{# The domain of a signal id, and the order of signals as listed in config/rules.yml (E1 … H2). #}
{% macro domain_of(signal_column) -%}
    case {{ signal_column }}
    {%- for id, s in var('rules')['signals'].items() %}
        when '{{ id }}' then '{{ s["domain"] }}'
    {%- endfor %}
    end
{%- endmacro %}

{% macro signal_order(signal_column) -%}
    case {{ signal_column }}
    {%- for id in var('rules')['signals'] %}
        when '{{ id }}' then {{ loop.index }}
    {%- endfor %}
    end
{%- endmacro %}

{% macro domain_order(domain_column) -%}
    case {{ domain_column }}
    {%- set seen = [] -%}
    {%- for id, s in var('rules')['signals'].items() if s['domain'] not in seen %}
        {%- do seen.append(s['domain']) %}
        when '{{ s["domain"] }}' then {{ seen | length }}
    {%- endfor %}
    end
{%- endmacro %}

{# A list of signal ids as the caseworkers read it: 'S1 月間欠席、H1 要精密・要医療' (empty for none). #}
{% macro signal_labels(list_column) -%}
    array_to_string(list_transform({{ list_column }}, lambda s: case s
    {%- for id, s in var('rules')['signals'].items() %} when '{{ id }}' then '{{ id }} {{ s["label"] }}'{% endfor %}
    end), '、')
{%- endmacro %}

{# The corrections (受付番号) of the rows a fact rests on, gathered over a group of rows. #}
{% macro corrections_of(column) -%}
    list_distinct(flatten(list({{ column }}) filter (where {{ column }} is not null)))
{%- endmacro %}

{# （訂正済 受付番号） after a reason that rests on a corrected row (rights.md); empty otherwise. #}
{% macro corrected_note(list_expression) -%}
    case when len(coalesce({{ list_expression }}, [])) > 0
         then '（訂正済 ' || array_to_string(list_sort(list_distinct({{ list_expression }})), '・') || '）'
         else '' end
{%- endmacro %}
