with source as (
    select * from {{ source('registry', 'jumin') }}
)

select
    address_code,
    household_code,
    full_name,
    full_name_kana,
    birth_date,
    cast(sex as integer) as sex,
    relation,
    address,
    area_code,
    resident_status,
    resident_status = '住民' as is_resident,
    change_reason,
    change_date,
    _corrections as corrections,
    _source_file as source_file,
    _extracted_on as extracted_on
from source
