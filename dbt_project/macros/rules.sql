{# The rule set comes as vars (config/rules.yml); the run's as-of date T from MIMAMORI_AS_OF, read only
   when executing, so that a new date each night does not force dbt to re-parse the project
   (pipelines/linkage/vars.py). #}

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
    ({{ column }} > {{ add_days(as_of(), '-(' ~ days ~ ')') }} and {{ column }} <= {{ as_of() }})
{%- endmacro %}

{# Completed years on a date (a person born on 2008-11-24 is 18 on 2026-11-24): the difference of the
   years, less one before the birthday of that year. Plain arithmetic, the same on every engine. #}
{% macro age_on(birth_date, on_date) -%}
    (year({{ on_date }}) - year({{ birth_date }})
     - case when month({{ on_date }}) * 100 + day({{ on_date }}) < month({{ birth_date }}) * 100 + day({{ birth_date }})
            then 1 else 0 end)
{%- endmacro %}

{# A programme record is ongoing on T when 開始日 ≤ T and (終了日 is empty or 終了日 ≥ T). #}
{% macro is_ongoing(start_date, end_date) -%}
    ({{ start_date }} <= {{ as_of() }} and ({{ end_date }} is null or {{ end_date }} >= {{ as_of() }}))
{%- endmacro %}

{# A date in reasons: 2026-08-03 (a date cast to text is ISO on every engine) #}
{% macro ymd(column) -%}
    cast({{ column }} as {{ dbt.type_string() }})
{%- endmacro %}

{# A month in reasons: 2026年10月 #}
{% macro year_month_ja(column) -%}
    cast(year({{ column }}) as {{ dbt.type_string() }}) || '年' || cast(month({{ column }}) as {{ dbt.type_string() }}) || '月'
{%- endmacro %}

{# Whether a code starts with a prefix (substr is the same on every engine; starts_with is not) #}
{% macro has_prefix(code, prefix) -%}
    substr({{ code }}, 1, {{ prefix | length }}) = '{{ prefix }}'
{%- endmacro %}

{# The support office of a 町丁目コード, from config/offices.yml: the first office with a matching prefix,
   else the default office. field is "code" or "name". #}
{% macro office_for(area_code, field) -%}
    {%- set cfg = var('offices') -%}
    {%- set default = cfg.get('default_office', {}) -%}
    case
    {%- for office in cfg.get('offices', []) %}
        when {% for prefix in office['areas'] %}{{ has_prefix(area_code, prefix) }}{% if not loop.last %} or {% endif %}{% endfor %} then '{{ office[field] }}'
    {%- endfor %}
        when true then '{{ default.get(field, "00" if field == "code" else "こども家庭センター") }}'
    end
{%- endmacro %}

{# True only when offices are configured and none covers the area (then the summary says so). #}
{% macro office_is_default(area_code) -%}
    {%- set cfg = var('offices') -%}
    {{ 'false and ' if not cfg.get('offices') else '' }}not ({% for office in cfg.get('offices', []) %}{% for prefix in office['areas'] %}{{ has_prefix(area_code, prefix) }} or {% endfor %}{% endfor %}false)
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
    {%- set label -%}
    case x{% for id, s in var('rules')['signals'].items() %} when '{{ id }}' then '{{ id }} {{ s["label"] }}'{% endfor %} end
    {%- endset -%}
    {{ list_join(list_transform(list_column, label), "'、'") }}
{%- endmacro %}

{# The corrections (受付番号) of the rows a fact rests on, gathered over a group of rows. #}
{% macro corrections_of(column) -%}
    {{ collect_flat_distinct(column) }}
{%- endmacro %}

{# （訂正済 受付番号） after a reason that rests on a corrected row (rights.md); empty otherwise. #}
{% macro corrected_note(list_expression) -%}
    case when {{ list_length('coalesce(' ~ list_expression ~ ', ' ~ empty_list() ~ ')') }} > 0
         then '（訂正済 ' || {{ list_join(list_sorted_distinct(list_expression), "'・'") }} || '）'
         else '' end
{%- endmacro %}
