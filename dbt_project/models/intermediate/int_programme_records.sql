-- Programme records with whether each is ongoing on T.
select
    *,
    {{ is_ongoing('start_date', 'end_date') }} as is_ongoing
from {{ ref('stg_welfare__programme_records') }}
where start_date <= {{ as_of() }}
