-- Enrolled pupils (在籍) linked to the registry: 児童生徒番号 → 宛名番号 through 学齢簿.
select
    pupil_id,
    address_code,
    school_code,
    school_name,
    grade
from {{ ref('stg_school__register') }}
where is_enrolled
