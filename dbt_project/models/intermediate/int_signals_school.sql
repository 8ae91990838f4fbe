-- 学校 (school attendance) signals S1–S4, one row per child and signal that fired.
with windows as (
    select * from {{ ref('int_attendance_windows') }}
),

fired as (
    select
        address_code,
        'S1' as signal_id,
        {{ signal_label('S1') }} || ': ' || strftime(last_month_start, '%Y年%-m月') || ' 欠席'
            || absences_last_month || '日' || {{ corrected_note('corrections_last_month') }} as reason
    from windows
    where absences_last_month >= {{ rule('S1', 'min_days') }}

    union all

    select
        address_code, 'S2',
        {{ signal_label('S2') }} || ': ' || {{ ymd('school_year_start') }} || '以降 欠席'
            || absences_school_year || '日' || {{ corrected_note('corrections_school_year') }}
    from windows
    where absences_school_year >= {{ rule('S2', 'min_days') }}

    union all

    select
        address_code, 'S3',
        {{ signal_label('S3') }} || ': 直近{{ rule("S3", "recent_days") }}日 ' || late_recent
            || '回（その前{{ rule("S3", "baseline_days") }}日の月平均 '
            || round(late_baseline * 30.0 / {{ rule('S3', 'baseline_days') }}, 1) || '回）'
            || {{ corrected_note('corrections_recent') }}
    from windows
    where late_recent >= {{ rule('S3', 'min_count') }}
      and late_recent >= {{ rule('S3', 'ratio') }} * late_baseline * 30.0 / {{ rule('S3', 'baseline_days') }}

    union all

    select
        address_code, 'S4',
        {{ signal_label('S4') }} || ': 直近{{ rule("S4", "recent_days") }}日 ' || nurse_recent
            || '回（その前{{ rule("S4", "baseline_days") }}日の月平均 '
            || round(nurse_baseline * 30.0 / {{ rule('S4', 'baseline_days') }}, 1) || '回）'
            || {{ corrected_note('corrections_recent') }}
    from windows
    where nurse_recent >= {{ rule('S4', 'min_count') }}
      and nurse_recent >= {{ rule('S4', 'ratio') }} * nurse_baseline * 30.0 / {{ rule('S4', 'baseline_days') }}
)

-- a child with two enrolments (a move mid-year) counts once per signal: the strongest facts
select address_code, signal_id,  max(reason) as reason
from fired
group by address_code, signal_id
