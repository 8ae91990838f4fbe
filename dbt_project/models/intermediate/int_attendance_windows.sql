-- Per enrolled pupil: the counts the school signals read, over the windows of flag-rules.md.
--   last_month: the last complete calendar month before T
--   school_year: from the latest 1 April ≤ T to T
--   recent: the S3/S4 recent window ending T; baseline: the days before it (T − 119 … T − 30 by default)
{% set recent = rule('S3', 'recent_days') %}
{% set baseline = rule('S3', 'baseline_days') %}
{% set nurse_recent = rule('S4', 'recent_days') %}
{% set nurse_baseline = rule('S4', 'baseline_days') %}

with bounds as (
    select
        {{ add_months(month_start(as_of()), -1) }} as last_month_start,
        {{ month_start(as_of()) }} as this_month_start,
        make_date(year({{ as_of() }}) - case when month({{ as_of() }}) < 4 then 1 else 0 end, 4, 1) as school_year_start
),

attendance as (
    select *
    from {{ ref('stg_school__attendance') }}
    where school_day <= {{ as_of() }}
),

-- counted per pupil first, then joined to the enrolled pupils: a join of 100 k rows, not of 13 M days
-- (fukuoka: half the time and CPU)
windows as (

    select
        a.pupil_id,
        any_value(b.last_month_start) as last_month_start,
        count(*) filter (where a.is_absent and a.school_day >= b.last_month_start
                                           and a.school_day < b.this_month_start) as absences_last_month,
        -- the corrections (受付番号) of the rows each window counts, for the reasons (訂正済)
        {{ collect_flat_distinct('a.corrections',
            'a.school_day >= b.last_month_start and a.school_day < b.this_month_start') }} as corrections_last_month,
        {{ collect_flat_distinct('a.corrections', 'a.school_day >= b.school_year_start') }} as corrections_school_year,
        {{ collect_flat_distinct('a.corrections', 'a.school_day > ' ~ add_days(as_of(), '-(' ~ recent ~ ' + ' ~ baseline ~ ')')) }}
            as corrections_recent,
        any_value(b.school_year_start) as school_year_start,
        count(*) filter (where a.is_absent and a.school_day >= b.school_year_start) as absences_school_year,
        count(*) filter (where a.is_late_or_early and {{ within_days('a.school_day', recent) }}) as late_recent,
        count(*) filter (where a.is_late_or_early
                           and a.school_day > {{ add_days(as_of(), '-(' ~ recent ~ ' + ' ~ baseline ~ ')') }}
                           and a.school_day <= {{ add_days(as_of(), '-' ~ recent) }}) as late_baseline,
        count(*) filter (where a.visited_nurse and {{ within_days('a.school_day', nurse_recent) }}) as nurse_recent,
        count(*) filter (where a.visited_nurse
                           and a.school_day > {{ add_days(as_of(), '-(' ~ nurse_recent ~ ' + ' ~ nurse_baseline ~ ')') }}
                           and a.school_day <= {{ add_days(as_of(), '-' ~ nurse_recent) }}) as nurse_baseline
    from attendance as a
    cross join bounds as b
    group by a.pupil_id

)

select
    p.address_code,
    w.*
from {{ ref('int_pupils') }} as p
inner join windows as w using (pupil_id)
