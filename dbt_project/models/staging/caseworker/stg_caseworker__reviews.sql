with source as (
    select * from {{ source('caseworker', 'reviews') }}
)

select
    address_code,
    list_date,
    reviewed_on,
    result as review_result,
    listed_signal_ids,
    listed_office_code,
    listed_rule_version,
    first_listed_on,
    file_office_code,
    _source_file as source_file,
    _source_line as source_line,
    _loaded_seq as loaded_seq
from source
