-- How well the departments link on 宛名番号 / 児童生徒番号 tonight (one row per measure).
select
    'attendance_pupils_without_register' as measure,
    '出欠の児童生徒番号のうち学齢簿にないもの' as description,
    count(distinct a.pupil_id) as unmatched,
    (select count(distinct pupil_id) from {{ ref('stg_school__attendance') }}) as total
from {{ ref('stg_school__attendance') }} as a
left join {{ ref('stg_school__register') }} as r using (pupil_id)
where r.pupil_id is null

union all

select
    'programme_records_without_registry',
    '福祉の記録のうち宛名番号が住民記録にないもの',
    count(*),
    (select count(*) from {{ ref('stg_welfare__programme_records') }})
from {{ ref('stg_welfare__programme_records') }} as w
left join {{ ref('stg_registry__residents') }} as r using (address_code)
where r.address_code is null

union all

select
    'register_pupils_without_registry',
    '学齢簿の宛名番号のうち住民記録にないもの',
    count(*),
    (select count(*) from {{ ref('stg_school__register') }})
from {{ ref('stg_school__register') }} as s
left join {{ ref('stg_registry__residents') }} as r using (address_code)
where r.address_code is null
