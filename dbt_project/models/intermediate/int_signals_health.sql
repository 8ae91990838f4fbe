-- 健康 (health) signals H1–H2, one row per child and signal that fired.
with attended as (
    select
        *,
        row_number() over (partition by address_code order by attended_date desc, scheduled_date desc) as newest_rank
    from {{ ref('stg_health__checkups') }}
    where attended_date is not null and attended_date <= {{ as_of() }}
),

weighed as (
    select
        *,
        row_number() over (partition by address_code order by attended_date desc, scheduled_date desc) as weight_rank
    from attended
    where weight_kg is not null
),

weight_pairs as (
    select
        newer.address_code,
        older.weight_kg as older_weight, older.attended_date as older_date,
        newer.weight_kg as newer_weight, newer.attended_date as newer_date,
        list_concat(coalesce(older.corrections, []), coalesce(newer.corrections, [])) as corrections
    from weighed as newer
    inner join weighed as older
        on older.address_code = newer.address_code and older.weight_rank = 2
    where newer.weight_rank = 1
)

select
    address_code, 'H1' as signal_id, 
    {{ signal_label('H1') }} || ': ' || checkup_kind || ' ' || {{ ymd('attended_date') }} || ' 判定 ' || result
        || {{ corrected_note('corrections') }} as reason
from attended
where newest_rank = 1
  and {{ within_days('attended_date', rule('H1', 'within_days')) }}
  and result in {{ rule_values('H1', 'results') }}

union all

select
    address_code, 'H2', 
    {{ signal_label('H2') }} || ': ' || older_weight || 'kg（' || {{ ymd('older_date') }} || '）→ '
        || newer_weight || 'kg（' || {{ ymd('newer_date') }} || '）' || {{ corrected_note('corrections') }}
from weight_pairs
where newer_weight < {{ rule('H2', 'ratio') }} * older_weight
