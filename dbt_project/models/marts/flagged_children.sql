-- The nightly list (1次スクリーニング): children with signals in min_domains or more domains, less those a
-- still valid review cleared (unless a new signal fired), ordered by the number of domains, then 宛名番号.
-- An aid for a professional's assessment, never a ranking.
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
    case when c.is_supported or c.is_supported_by_review then '支援中' else '未支援' end as support_status,
    case
        when c.is_cleared_by_review then '再掲'
        when p.address_code is null then '新規'
        else '継続'
    end as change_since_previous,
    c.last_reviewed_on,
    c.last_review_result,
    c.reviewed_list_date,
    c.review_is_valid,
    c.signals_since_review,
    {{ signal_labels('c.signals_since_review') }} as signals_since_review_text,
    c.as_of,
    c.rule_version,
    row_number() over (order by c.domain_count desc, c.address_code) as list_order
from {{ ref('flag_candidates') }} as c
left join previous as p using (address_code)
where not c.is_left_off
