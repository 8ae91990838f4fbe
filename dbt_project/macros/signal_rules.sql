{# The flag rules of ../shared/spec/flag-rules.md, written once: whether a signal fires, from the measures
   of a child (int_child_measures in the restricted store, child_measures in the analysts' store), for a
   rule set given as a dict — config/rules.yml for the nightly list, a candidate's rules in the lab.
   `m` is the alias of the measures' relation. #}

{% macro infant_checkup_column(kind) -%}
    {{ return({'4か月児': 'missed_4m_days', '1歳6か月児': 'missed_18m_days', '3歳児': 'missed_3y_days'}[kind]) }}
{%- endmacro %}

{# days since an infant check-up of one of the rule's kinds missed at least grace_days ago, within
   within_days (the newest such), or null #}
{% macro missed_checkup_days(rule, m) -%}
    least({% for kind in rule['checkups'] %}case when {{ m }}.{{ infant_checkup_column(kind) }}
        between {{ rule['grace_days'] }} and {{ rule['within_days'] - 1 }} then {{ m }}.{{ infant_checkup_column(kind) }} end{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}

{% macro fires(signal, rules, m) -%}
    {%- set r = rules['signals'][signal] -%}
    {%- if signal == 'E1' -%}
    ({{ m }}.seikatsu_hogo_self or {{ m }}.seikatsu_hogo_member)
    {%- elif signal == 'E2' -%}
    ({{ m }}.jido_fuyo_self or {{ m }}.jido_fuyo_member)
    {%- elif signal == 'E3' -%}
    ({{ m }}.shugaku_enjo_self or {{ m }}.shugaku_enjo_member)
    {%- elif signal == 'E4' -%}
    ({{ m }}.adults_assessed > 0 and {{ m }}.adults_exempt = {{ m }}.adults_assessed)
    {%- elif signal == 'C1' -%}
    (coalesce({{ m }}.days_since_report_self < {{ r['within_days'] }}, false)
     or coalesce({{ m }}.days_since_report_sibling < {{ r['within_days'] }}, false))
    {%- elif signal == 'C2' -%}
    coalesce({{ m }}.days_since_consultation < {{ r['within_days'] }}, false)
    {%- elif signal == 'C3' -%}
    ({{ missed_checkup_days(r, m) }} is not null)
    {%- elif signal == 'C4' -%}
    coalesce({{ m }}.guidance_closed_days < {{ r['within_days'] }}, false)
    {%- elif signal in ('S1', 'S2') -%}
    coalesce({{ m }}.{{ 'absences_last_month' if signal == 'S1' else 'absences_school_year' }} >= {{ r['min_days'] }}, false)
    {%- elif signal in ('S3', 'S4') -%}
    {%- set measure = 'late' if signal == 'S3' else 'nurse' -%}
    coalesce({{ m }}.{{ measure }}_recent >= {{ r['min_count'] }}
             and {{ m }}.{{ measure }}_recent >= {{ r['ratio'] }} * {{ m }}.{{ measure }}_baseline * 30.0 / {{ r['baseline_days'] }}, false)
    {%- elif signal == 'H1' -%}
    coalesce({{ m }}.days_since_checkup < {{ r['within_days'] }}
             and {{ m }}.latest_checkup_result in {{ quoted_list(r['results']) }}, false)
    {%- elif signal == 'H2' -%}
    coalesce({{ m }}.weight_ratio < {{ r['ratio'] }}, false)
    {%- else -%}
    {{ exceptions.raise_compiler_error("no rule for signal " ~ signal) }}
    {%- endif -%}
{%- endmacro %}

{# Whether the signal rests only on other household members' records (risk by association), from the
   same measures: E2 and E4 by what the household holds, E1/E3/C1 when the child's own record is absent. #}
{% macro rests_on_others(signal, rules, m) -%}
    {%- set r = rules['signals'][signal] -%}
    {%- if signal == 'E1' -%} not {{ m }}.seikatsu_hogo_self
    {%- elif signal == 'E2' -%} not {{ m }}.jido_fuyo_self
    {%- elif signal == 'E3' -%} not {{ m }}.shugaku_enjo_self
    {%- elif signal == 'E4' -%} true
    {%- elif signal == 'C1' -%} not coalesce({{ m }}.days_since_report_self < {{ r['within_days'] }}, false)
    {%- else -%} false
    {%- endif -%}
{%- endmacro %}

{% macro quoted_list(values) -%}
    ({% for v in values %}'{{ v }}'{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}

{# The number of domains in which a signal fires, for a rule set. #}
{% macro domain_count(rules, m) -%}
    {%- set domains = {} -%}
    {%- for id, s in rules['signals'].items() -%}
        {%- do domains.setdefault(s['domain'], []).append(id) -%}
    {%- endfor -%}
    ({% for domain, ids in domains.items() %}case when {% for id in ids %}{{ fires(id, rules, m) }}{% if not loop.last %} or {% endif %}{% endfor %} then 1 else 0 end{% if not loop.last %} + {% endif %}{% endfor %})
{%- endmacro %}
