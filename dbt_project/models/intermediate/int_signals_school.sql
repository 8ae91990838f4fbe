-- 学校 (school attendance) signals S1–S4, one row per child and signal that fired (rules: macros/signal_rules.sql).
with m as (
    select * from {{ ref('int_child_measures') }}
)

select
    address_code,
    'S1' as signal_id,
    {{ signal_label('S1') }} || ': ' || {{ year_month_ja('last_month_start') }} || ' 欠席'
        || absences_last_month || '日' || {{ corrected_note('absence_month_corrections') }} as reason
from m
where {{ fires('S1', var('rules'), 'm') }}

union all

select
    address_code, 'S2',
    {{ signal_label('S2') }} || ': ' || {{ ymd('school_year_start') }} || '以降 欠席'
        || absences_school_year || '日' || {{ corrected_note('absence_year_corrections') }}
from m
where {{ fires('S2', var('rules'), 'm') }}

{% for signal, measure in [('S3', 'late'), ('S4', 'nurse')] %}
union all

select
    address_code, '{{ signal }}',
    {{ signal_label(signal) }} || ': 直近{{ rule(signal, "recent_days") }}日 ' || {{ measure }}_recent
        || '回（その前{{ rule(signal, "baseline_days") }}日の月平均 '
        || round({{ measure }}_baseline * 30.0 / {{ rule(signal, 'baseline_days') }}, 1) || '回）'
        || {{ corrected_note('recent_corrections') }}
from m
where {{ fires(signal, var('rules'), 'm') }}
{% endfor %}
