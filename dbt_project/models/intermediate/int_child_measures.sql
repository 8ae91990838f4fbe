-- Per child of the population on T: the numbers every signal reads (../shared/spec/flag-rules.md), before
-- any threshold. The rules (macros/signal_rules.sql) turn them into signals, here for the nightly list and
-- in the analysts' lab for a candidate rule set; the analysts' store gets them without dates or codes.
-- Dates and corrections (受付番号) are kept here for the reasons' facts.
{% set adult_age = var('rules')['adult_age'] %}
{% set infant_kinds = {'4か月児': 'missed_4m', '1歳6か月児': 'missed_18m', '3歳児': 'missed_3y'} %}

with children as (
    select address_code, household_code from {{ ref('int_children') }}
),

members as (
    select * from {{ ref('int_household_members') }}
),

records as (
    select * from {{ ref('int_programme_records') }}
),

household as (
    select
        child_code as address_code,
        count(*) as household_size,
        count(*) filter (where member_age >= {{ adult_age }}) as household_adults,
        count(*) filter (where member_age < {{ adult_age }}) as household_children
    from members
    group by child_code
),

programmes as (  -- E1–E3: ongoing records of the child, or of another member of the household
    select
        m.child_code as address_code,
        bool_or(r.programme = '生活保護' and m.is_self) as seikatsu_hogo_self,
        bool_or(r.programme = '生活保護' and not m.is_self) as seikatsu_hogo_member,
        bool_or(r.programme = '児童扶養手当' and m.is_self) as jido_fuyo_self,
        bool_or(r.programme = '児童扶養手当' and not m.is_self) as jido_fuyo_member,
        bool_or(r.programme = '就学援助' and m.is_self) as shugaku_enjo_self,
        bool_or(r.programme = '就学援助' and not m.is_self) as shugaku_enjo_member,
        max(r.start_date) filter (where r.programme = '生活保護') as seikatsu_hogo_since,
        max(r.start_date) filter (where r.programme = '児童扶養手当') as jido_fuyo_since,
        max(r.start_date) filter (where r.programme = '就学援助') as shugaku_enjo_since,
        {{ corrections_of('r.corrections') }} as programme_corrections
    from members as m
    inner join records as r on r.address_code = m.member_code
    where r.is_ongoing and r.programme in ('生活保護', '児童扶養手当', '就学援助')
    group by m.child_code
),

newest_year as (
    select max(fiscal_year) as fiscal_year from {{ ref('stg_tax__assessments') }}
),

tax as (  -- E4: the household's adults assessed for the newest fiscal year, and how many are exempt
    select
        m.child_code as address_code,
        any_value(t.fiscal_year) as tax_year,
        count(*) as adults_assessed,
        count(*) filter (where t.is_exempt) as adults_exempt,
        {{ corrections_of('t.corrections') }} as tax_corrections
    from members as m
    inner join {{ ref('stg_tax__assessments') }} as t on t.address_code = m.member_code
    inner join newest_year as y on t.fiscal_year = y.fiscal_year
    where m.member_age >= {{ adult_age }}
    group by m.child_code
),

reports as (  -- C1: the newest report about the child, and about another child of the household
    select
        m.child_code as address_code,
        {{ days_before_as_of('max(r.start_date) filter (where m.is_self)') }} as days_since_report_self,
        {{ days_before_as_of('max(r.start_date) filter (where not m.is_self)') }} as days_since_report_sibling,
        {{ corrections_of('r.corrections') }} as report_corrections
    from members as m
    inner join records as r on r.address_code = m.member_code
    where r.programme = '児童虐待通告' and (m.is_self or m.member_age < 18)
    group by m.child_code
),

consultations as (  -- C2: the child's own newest consultation
    select
        r.address_code,
        {{ days_before_as_of('max(r.start_date)') }} as days_since_consultation,
        {{ corrections_of('r.corrections') }} as consultation_corrections
    from records as r
    inner join children using (address_code)
    where r.programme = '家庭児童相談'
    group by r.address_code
),

guidance_cases as (  -- C4: the linked 児童相談所 cases of the rule's types, received by T, the most current first
    select
        g.*,
        case when g.closed_on is null or g.closed_on > {{ as_of() }} then 0
             else {{ days_before_as_of('g.closed_on') }} end as closed_days,
        row_number() over (partition by g.address_code order by
            case when g.closed_on is null or g.closed_on > {{ as_of() }} then 0
                 else {{ days_before_as_of('g.closed_on') }} end, g.received_on desc, g.case_number) as current_rank
    from {{ ref('stg_guidance__cases') }} as g
    inner join children using (address_code)
    where g.received_on <= {{ as_of() }}
      and g.case_type in {{ quoted_list(var('rules')['signals']['C4']['case_types']) }}
),

guidance as (
    select address_code, closed_days as guidance_closed_days, case_type as guidance_case_type,
           received_on as guidance_received_on, link_note as guidance_link_note, corrections as guidance_corrections
    from guidance_cases
    where current_rank = 1
),

checkups as (
    select c.*
    from {{ ref('stg_health__checkups') }} as c
    inner join children using (address_code)
    where c.scheduled_date <= {{ as_of() }}
),

missed as (  -- C3: per infant check-up kind, days since its newest scheduled date when it was not attended
    select
        address_code,
        {% for kind, column in infant_kinds.items() %}
        {{ days_before_as_of("max(scheduled_date) filter (where checkup_kind = '" ~ kind ~ "')") }} as {{ column }}_days,
        {% endfor %}
        {{ corrections_of('corrections') }} as missed_corrections
    from checkups
    where checkup_kind in ({% for kind in infant_kinds %}'{{ kind }}'{% if not loop.last %}, {% endif %}{% endfor %})
      and (attended_date is null or attended_date > {{ as_of() }})
    group by address_code
),

attended as (
    select
        *,
        row_number() over (partition by address_code order by attended_date desc, scheduled_date desc) as newest_rank
    from checkups
    where attended_date is not null and attended_date <= {{ as_of() }}
),

latest_checkup as (  -- H1: the newest attended check-up
    select address_code, checkup_kind as latest_checkup_kind, attended_date as latest_checkup_on,
           {{ days_before_as_of('attended_date') }} as days_since_checkup, result as latest_checkup_result,
           corrections as checkup_corrections
    from attended
    where newest_rank = 1
),

weighed as (
    select
        *,
        row_number() over (partition by address_code order by attended_date desc, scheduled_date desc) as weight_rank
    from attended
    where weight_kg is not null
),

weights as (  -- H2: the two newest weights
    select
        newer.address_code,
        older.weight_kg as older_weight, older.attended_date as older_weighed_on,
        newer.weight_kg as newer_weight, newer.attended_date as newer_weighed_on,
        round(newer.weight_kg / older.weight_kg, 4) as weight_ratio,
        {{ list_concat('coalesce(older.corrections, ' ~ empty_list() ~ ')',
                       'coalesce(newer.corrections, ' ~ empty_list() ~ ')') }} as weight_corrections
    from weighed as newer
    inner join weighed as older on older.address_code = newer.address_code and older.weight_rank = 2
    where newer.weight_rank = 1
),

attendance as (  -- S1–S4: a child with two enrolments (a move mid-year) counts by the larger
    select
        address_code,
        any_value(last_month_start) as last_month_start,
        any_value(school_year_start) as school_year_start,
        max(absences_last_month) as absences_last_month,
        max(absences_school_year) as absences_school_year,
        max(late_recent) as late_recent,
        max(late_baseline) as late_baseline,
        max(nurse_recent) as nurse_recent,
        max(nurse_baseline) as nurse_baseline,
        {{ corrections_of('corrections_last_month') }} as absence_month_corrections,
        {{ corrections_of('corrections_school_year') }} as absence_year_corrections,
        {{ corrections_of('corrections_recent') }} as recent_corrections
    from {{ ref('int_attendance_windows') }}
    group by address_code
)

select
    c.address_code,
    coalesce(h.household_size, 1) as household_size,
    coalesce(h.household_adults, 0) as household_adults,
    coalesce(h.household_children, 1) as household_children,
    coalesce(p.seikatsu_hogo_self, false) as seikatsu_hogo_self,
    coalesce(p.seikatsu_hogo_member, false) as seikatsu_hogo_member,
    coalesce(p.jido_fuyo_self, false) as jido_fuyo_self,
    coalesce(p.jido_fuyo_member, false) as jido_fuyo_member,
    coalesce(p.shugaku_enjo_self, false) as shugaku_enjo_self,
    coalesce(p.shugaku_enjo_member, false) as shugaku_enjo_member,
    p.seikatsu_hogo_since, p.jido_fuyo_since, p.shugaku_enjo_since, p.programme_corrections,
    t.tax_year,
    coalesce(t.adults_assessed, 0) as adults_assessed,
    coalesce(t.adults_exempt, 0) as adults_exempt,
    t.tax_corrections,
    r.days_since_report_self, r.days_since_report_sibling, r.report_corrections,
    q.days_since_consultation, q.consultation_corrections,
    {% for column in infant_kinds.values() %}m.{{ column }}_days, {% endfor %}
    m.missed_corrections,
    g.guidance_closed_days, g.guidance_case_type, g.guidance_received_on, g.guidance_link_note, g.guidance_corrections,
    a.last_month_start, a.school_year_start,
    a.absences_last_month, a.absences_school_year, a.late_recent, a.late_baseline, a.nurse_recent, a.nurse_baseline,
    a.absence_month_corrections, a.absence_year_corrections, a.recent_corrections,
    l.latest_checkup_kind, l.latest_checkup_on, l.days_since_checkup, l.latest_checkup_result, l.checkup_corrections,
    w.older_weight, w.older_weighed_on, w.newer_weight, w.newer_weighed_on, w.weight_ratio, w.weight_corrections
from children as c
left join household as h using (address_code)
left join programmes as p using (address_code)
left join tax as t using (address_code)
left join reports as r using (address_code)
left join consultations as q using (address_code)
left join missed as m using (address_code)
left join guidance as g using (address_code)
left join attendance as a using (address_code)
left join latest_checkup as l using (address_code)
left join weights as w using (address_code)
