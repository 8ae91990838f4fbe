with source as (
    select * from {{ source('tax', 'zei') }}
)

select
    address_code,
    cast(fiscal_year as integer) as fiscal_year,
    tax_status,
    tax_status = '非課税' as is_exempt,
    total_income_yen,
    dependants,
    _corrections as corrections,
    _source_file as source_file,
    _extracted_on as extracted_on
from source
