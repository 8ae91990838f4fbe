-- The work queue (../shared/spec/reviews.md): every child on tonight's list, since when the child awaits a
-- review, and whether that is longer than review.due_days (overdue). A child awaits a review from the
-- first night of the current run of listings (or from the day its last review stopped standing, if
-- later) when no review stands, or when it is back (再掲) with a signal its review did not see.
with tonight as (
    select * from {{ ref('flagged_children') }}
),

current_run as (
    select address_code, listed_from
    from {{ ref('listing_runs') }}
    where listed_until = {{ as_of() }}
),

queue as (
    select
        t.address_code,
        t.office_code,
        t.office_name,
        t.change_since_previous,
        t.last_reviewed_on,
        t.last_review_result,
        r.listed_from,
        case
            when t.review_is_valid and t.change_since_previous != '再掲' then null
            when t.last_reviewed_on is not null and not t.review_is_valid
                then greatest(r.listed_from, {{ add_days('t.last_reviewed_on', var('rules')['review']['valid_days'] + 1) }})
            else r.listed_from
        end as awaiting_since,
        t.as_of
    from tonight as t
    inner join current_run as r using (address_code)
)

select
    *,
    {{ add_days('awaiting_since', var('rules')['review']['due_days']) }} as review_due_on,
    coalesce({{ as_of() }} > {{ add_days('awaiting_since', var('rules')['review']['due_days']) }}, false) as is_overdue
from queue
