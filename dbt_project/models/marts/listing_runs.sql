-- Each unbroken run of a child's nights on the list: the child was on every list made from listed_from
-- to listed_until (a night without a list made does not break a run; a list without the child does).
-- The work queue, the reviews (since when a reviewed child had been listed) and the report read it.
with nights as (
    select as_of, row_number() over (order by as_of) as night
    from {{ ref('flag_list_runs') }}
),

listed as (
    select
        h.address_code,
        h.as_of,
        h.office_code,
        n.night - row_number() over (partition by h.address_code order by h.as_of) as run_key
    from {{ ref('flag_list_history') }} as h
    inner join nights as n using (as_of)
)

select
    address_code,
    min(as_of) as listed_from,
    max(as_of) as listed_until,
    count(*) as nights_listed,
    {{ value_at_min('office_code', 'as_of') }} as office_code
from listed
group by address_code, run_key
