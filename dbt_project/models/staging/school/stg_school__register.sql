with source as (
    select * from {{ source('school', 'gakureibo') }}
)

select
    address_code,
    pupil_id,
    school_code,
    school_name,
    cast(grade as integer) as grade,
    class_name,
    enrolment_status,
    enrolment_status = '在籍' as is_enrolled,
    _corrections as corrections,
    _source_file as source_file,
    _extracted_on as extracted_on
from source
