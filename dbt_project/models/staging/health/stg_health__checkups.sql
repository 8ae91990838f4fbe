with source as (
    select * from {{ source('health', 'kenshin') }}
)

select
    address_code,
    checkup_kind,
    scheduled_date,
    attended_date,
    height_cm,
    weight_kg,
    result,
    _corrections as corrections,
    _source_file as source_file,
    _extracted_on as extracted_on
from source
