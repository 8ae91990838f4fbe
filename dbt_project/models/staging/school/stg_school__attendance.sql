with source as (
    select * from {{ source('school', 'shukketsu') }}
)

select
    pupil_id,
    school_code,
    school_day,
    attendance,
    attendance = '欠席' as is_absent,
    attendance in ('遅刻', '早退') as is_late_or_early,
    absence_reason,
    nurse_visit = '1' as visited_nurse,
    _corrections as corrections,
    _source_file as source_file,
    _extracted_on as extracted_on
from source
