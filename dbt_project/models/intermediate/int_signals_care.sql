-- 養育 (care at home) signals C1–C4, one row per child and signal that fired (rules: macros/signal_rules.sql).
{% set c1 = rule('C1', 'within_days') %}
with m as (
    select * from {{ ref('int_child_measures') }}
)

select
    address_code,
    'C1' as signal_id,
    {{ signal_label('C1') }} || ': '
        || {{ ymd(add_days(as_of(), '-least(case when days_since_report_self < ' ~ c1 ~ ' then days_since_report_self end, '
                                    ~ 'case when days_since_report_sibling < ' ~ c1 ~ ' then days_since_report_sibling end)')) }}
        || ' 通告（' || case when coalesce(days_since_report_self < {{ c1 }}, false) then '本人' else 'きょうだい' end || '）'
        || {{ corrected_note('report_corrections') }} as reason
from m
where {{ fires('C1', var('rules'), 'm') }}

union all

select
    address_code, 'C2',
    {{ signal_label('C2') }} || ': ' || {{ ymd(add_days(as_of(), '-days_since_consultation')) }} || ' 相談'
        || {{ corrected_note('consultation_corrections') }}
from m
where {{ fires('C2', var('rules'), 'm') }}

union all

select
    address_code, 'C3',
    {% set missed = missed_checkup_days(var('rules')['signals']['C3'], 'm') %}
    {{ signal_label('C3') }} || ': ' || case {{ missed }}
    {%- for kind in var('rules')['signals']['C3']['checkups'] %}
        when {{ infant_checkup_column(kind) }} then '{{ kind }}'
    {%- endfor %}
    end || ' 予定日' || {{ ymd(add_days(as_of(), '-' ~ missed)) }} || {{ corrected_note('missed_corrections') }}
from m
where {{ fires('C3', var('rules'), 'm') }}

union all

select
    address_code, 'C4',
    {{ signal_label('C4') }} || ': ' || guidance_case_type || ' 受付' || {{ ymd('guidance_received_on') }}
        || '（照合: ' || guidance_link_note || '）' || {{ corrected_note('guidance_corrections') }}
from m
where {{ fires('C4', var('rules'), 'm') }}
