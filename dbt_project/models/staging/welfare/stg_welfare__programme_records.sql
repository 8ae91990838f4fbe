with source as (
    select * from {{ source('welfare', 'fukushi') }}
)

select
    address_code,
    programme,
    start_date,
    end_date,
    household_code as household_code_at_start,
    _corrections as corrections,
    _source_file as source_file,
    _source_line as source_line,
    _extracted_on as extracted_on
from source
