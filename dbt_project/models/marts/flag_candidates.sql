-- Every child the rules flag tonight, with what the child's latest review does to the list entry
-- (../shared/spec/reviews.md):
--   支援不要 / 対象外, still valid: left off the list, unless a signal fires that did not fire on the
--     reviewed list (then back, 前回比 = 再掲);
--   要支援 / 支援中, still valid: on the list as 支援中, even before any 要保護児童等支援 record exists;
--   見守り, or a review no longer valid: on the list as the rules say, the review shown.
with flagged as (
    select * from {{ ref('child_signals') }}
    where is_flagged
),

reviews as (
    select * from {{ ref('int_latest_reviews') }}
),

compared as (
    select
        f.*,
        r.list_date as reviewed_list_date,
        r.reviewed_on as last_reviewed_on,
        r.review_result as last_review_result,
        r.valid_until as review_valid_until,
        coalesce(r.is_valid, false) as review_is_valid,
        case when r.address_code is not null
             then {{ list_except('f.signal_ids', 'r.listed_signal_ids') }} end as signals_since_review
    from flagged as f
    left join reviews as r using (address_code)
)

select
    *,
    review_is_valid and last_review_result in ('支援不要', '対象外') as is_cleared_by_review,
    review_is_valid and last_review_result in ('支援不要', '対象外')
        and {{ list_length('signals_since_review') }} = 0 as is_left_off,
    review_is_valid and last_review_result in ('要支援', '支援中') as is_supported_by_review
from compared
