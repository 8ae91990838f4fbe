-- 解除: children on the previous night's list who are not on tonight's (for the run summary only).
with previous as (
    {{ previous_flag_list() }}
)

select p.address_code, c.office_code
from previous as p
left join {{ ref('child_signals') }} as c using (address_code)
where not coalesce(c.is_flagged, false)
