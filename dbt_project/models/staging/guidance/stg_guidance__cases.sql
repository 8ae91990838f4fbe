-- The centre's cases linked to a child (band 'link' only: a pair under review or unlinked is no one's yet).
with cases as (
    select * from {{ source('guidance', 'jisou') }}
),

links as (
    select * from {{ source('guidance', 'jisou_links') }}
    where band = 'link'
)

select
    links.address_code,
    cases.case_number,
    cases.case_type,
    cases.received_on,
    cases.closed_on,
    -- how the reason says it was linked: 確認済 (the data team's decision) or 自動 99.7%
    case when links.method = '確認済' then '確認済'
         else '自動 ' || cast(least(round(links.match_probability * 100, 1), 99.9) as {{ dbt.type_string() }}) || '%' end
        as link_note,
    cases._corrections as corrections,
    cases._source_file as source_file,
    cases._source_line as source_line,
    cases._extracted_on as extracted_on
from cases
inner join links on links.case_number = cases.case_number
