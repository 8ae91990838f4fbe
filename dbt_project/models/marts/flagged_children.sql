-- The nightly list (1次スクリーニング): children with signals in min_domains or more domains, ordered by
-- the number of domains, then 宛名番号. An aid for a professional's assessment, never a ranking.
with previous as (
    {{ previous_flag_list() }}
)

select
    c.address_code,
    c.full_name,
    c.full_name_kana,
    c.birth_date,
    c.age,
    c.sex,
    c.address,
    c.area_code,
    c.office_code,
    c.office_name,
    c.is_default_office,
    c.school_name,
    c.grade,
    c.domain_count,
    c.domains,
    c.signal_ids,
    c.reasons,
    case when c.is_supported then '支援中' else '未支援' end as support_status,
    case when p.address_code is null then '新規' else '継続' end as change_since_previous,
    c.as_of,
    c.rule_version,
    row_number() over (order by c.domain_count desc, c.address_code) as list_order
from {{ ref('child_signals') }} as c
left join previous as p using (address_code)
where c.is_flagged
