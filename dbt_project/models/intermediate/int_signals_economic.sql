-- 経済 (economic) signals E1–E4, one row per child and signal that fired, with the facts as words.
with members as (
    select * from {{ ref('int_household_members') }}
),

ongoing as (
    select * from {{ ref('int_programme_records') }} where is_ongoing
),

programme_signals as (
    select
        m.child_code as address_code,
        case o.programme when '生活保護' then 'E1' when '児童扶養手当' then 'E2' when '就学援助' then 'E3' end as signal_id,
        max(o.start_date) as fact_date,
        bool_or(m.is_self) as for_child,
        {{ corrections_of('o.corrections') }} as corrections
    from members as m
    inner join ongoing as o on o.address_code = m.member_code
    where o.programme in ('生活保護', '児童扶養手当', '就学援助')
    group by all
),

newest_year as (
    select max(fiscal_year) as fiscal_year from {{ ref('stg_tax__assessments') }}
),

adult_assessments as (
    select m.child_code, t.fiscal_year, t.is_exempt, t.corrections
    from members as m
    inner join {{ ref('stg_tax__assessments') }} as t on t.address_code = m.member_code
    inner join newest_year as y on t.fiscal_year = y.fiscal_year
    where m.member_age >= {{ var('rules')['adult_age'] }}
),

exempt_households as (
    select
        child_code as address_code, 'E4' as signal_id, any_value(fiscal_year) as fiscal_year, count(*) as adults,
        {{ corrections_of('corrections') }} as corrections
    from adult_assessments
    group by child_code
    having bool_and(is_exempt)
)

select
    address_code,
    signal_id,
    
    case signal_id
        when 'E1' then {{ signal_label('E1') }}
        when 'E2' then {{ signal_label('E2') }}
        else {{ signal_label('E3') }}
    end || ': ' || case when for_child then '本人' else '世帯員' end
        || 'が受給中（開始' || {{ ymd('fact_date') }} || '）' || {{ corrected_note('corrections') }} as reason
from programme_signals

union all

select
    address_code,
    signal_id,
    
    {{ signal_label('E4') }} || ': ' || fiscal_year || '年度 世帯の{{ var("rules")["adult_age"] }}歳以上'
        || adults || '人全員が非課税' || {{ corrected_note('corrections') }} as reason
from exempt_households
