-- 養育 (care at home) signals C1–C3, one row per child and signal that fired.
with records as (
    select * from {{ ref('int_programme_records') }}
),

reports as (
    -- C1: a report within the window for the child or for another child (under 18) of the household
    select
        m.child_code as address_code,
        max(r.start_date) as fact_date,
        bool_or(m.is_self) as about_child,
        {{ corrections_of('r.corrections') }} as corrections
    from {{ ref('int_household_members') }} as m
    inner join records as r on r.address_code = m.member_code
    where r.programme = '児童虐待通告'
      and (m.is_self or m.member_age < 18)
      and {{ within_days('r.start_date', rule('C1', 'within_days')) }}
    group by m.child_code
),

children as (
    select member_code as address_code from {{ ref('int_household_members') }} where is_self
),

consultations as (
    -- C2: the child's own consultation within the window
    select address_code, max(start_date) as fact_date, {{ corrections_of('corrections') }} as corrections
    from records
    inner join children using (address_code)
    where programme = '家庭児童相談'
      and {{ within_days('start_date', rule('C2', 'within_days')) }}
    group by address_code
),

missed_checkups as (
    -- C3: an infant check-up scheduled within the window, at least grace_days ago, not attended
    select
        address_code,
        arg_max(checkup_kind, scheduled_date) as kind,
        max(scheduled_date) as fact_date,
        {{ corrections_of('corrections') }} as corrections
    from {{ ref('stg_health__checkups') }}
    inner join children using (address_code)
    where checkup_kind in {{ rule_values('C3', 'checkups') }}
      and {{ within_days('scheduled_date', rule('C3', 'within_days')) }}
      and scheduled_date <= {{ as_of() }} - interval ({{ rule('C3', 'grace_days') }}) day
      and (attended_date is null or attended_date > {{ as_of() }})
    group by address_code
)

select
    address_code, 'C1' as signal_id, 
    {{ signal_label('C1') }} || ': ' || {{ ymd('fact_date') }} || ' 通告（'
        || case when about_child then '本人' else 'きょうだい' end || '）' || {{ corrected_note('corrections') }} as reason
from reports

union all

select
    address_code, 'C2', 
    {{ signal_label('C2') }} || ': ' || {{ ymd('fact_date') }} || ' 相談' || {{ corrected_note('corrections') }}
from consultations

union all

select
    address_code, 'C3', 
    {{ signal_label('C3') }} || ': ' || kind || ' 予定日' || {{ ymd('fact_date') }} || {{ corrected_note('corrections') }}
from missed_checkups
