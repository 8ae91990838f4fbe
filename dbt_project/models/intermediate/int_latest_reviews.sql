-- The latest review of each child as of T (the later 確認日 wins; on a tie, the file read later), and
-- until when it stands: T ≤ 確認日 + review.valid_days (day 180 yes, day 181 no, by default).
with reviews as (
    select
        *,
        row_number() over (
            partition by address_code order by reviewed_on desc, loaded_seq desc, source_line desc
        ) as recency
    from {{ ref('stg_caseworker__reviews') }}
    where reviewed_on <= {{ as_of() }}
)

select
    address_code,
    list_date,
    reviewed_on,
    review_result,
    listed_signal_ids,
    listed_office_code,
    first_listed_on,
    {{ add_days('reviewed_on', var('rules')['review']['valid_days']) }} as valid_until,
    {{ as_of() }} <= {{ add_days('reviewed_on', var('rules')['review']['valid_days']) }} as is_valid
from reviews
where recency = 1
