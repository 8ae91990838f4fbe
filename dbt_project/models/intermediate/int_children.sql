-- The population: residents under 18 on T, with the support office of their town block.
select
    *,
    {{ office_for('area_code', 'code') }} as office_code,
    {{ office_for('area_code', 'name') }} as office_name,
    {{ office_is_default('area_code') }} as is_default_office
from {{ ref('int_residents') }}
where age < 18
