-- 健康 (health) signals H1–H2, one row per child and signal that fired (rules: macros/signal_rules.sql).
with m as (
    select * from {{ ref('int_child_measures') }}
)

select
    address_code,
    'H1' as signal_id,
    {{ signal_label('H1') }} || ': ' || latest_checkup_kind || ' ' || {{ ymd('latest_checkup_on') }} || ' 判定 '
        || latest_checkup_result || {{ corrected_note('checkup_corrections') }} as reason
from m
where {{ fires('H1', var('rules'), 'm') }}

union all

select
    address_code, 'H2',
    {{ signal_label('H2') }} || ': ' || older_weight || 'kg（' || {{ ymd('older_weighed_on') }} || '）→ '
        || newer_weight || 'kg（' || {{ ymd('newer_weighed_on') }} || '）' || {{ corrected_note('weight_corrections') }}
from m
where {{ fires('H2', var('rules'), 'm') }}
