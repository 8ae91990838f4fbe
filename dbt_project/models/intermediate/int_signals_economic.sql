-- 経済 (economic) signals E1–E4, one row per child and signal that fired, with the facts as words. Whether a
-- signal fires is the rule's (macros/signal_rules.sql), from the child's measures.
with m as (
    select * from {{ ref('int_child_measures') }}
)

{% for signal, programme in [('E1', 'seikatsu_hogo'), ('E2', 'jido_fuyo'), ('E3', 'shugaku_enjo')] %}
select
    address_code,
    '{{ signal }}' as signal_id,
    {{ signal_label(signal) }} || ': ' || case when {{ programme }}_self then '本人' else '世帯員' end
        || 'が受給中（開始' || {{ ymd(programme ~ '_since') }} || '）' || {{ corrected_note('programme_corrections') }}
        as reason
from m
where {{ fires(signal, var('rules'), 'm') }}

union all
{% endfor %}

select
    address_code,
    'E4',
    {{ signal_label('E4') }} || ': ' || tax_year || '年度 世帯の{{ var("rules")["adult_age"] }}歳以上'
        || adults_assessed || '人全員が非課税' || {{ corrected_note('tax_corrections') }}
from m
where {{ fires('E4', var('rules'), 'm') }}
