-- Every child of the population on T with every signal (flagged or not): the restricted base of the
-- caseworkers' list and of the pseudonymised analysis marts.
with children as (
    select * from {{ ref('int_children') }}
),

signals as (
    select
        address_code,
        {{ collect_ordered('signal_id', 'signal_order') }} as signal_ids,
        {{ list_join(collect_ordered('reason', 'signal_order'), 'chr(10)') }} as reasons,
        count(distinct domain) as domain_count
    from {{ ref('int_child_signals_long') }}
    group by address_code
),

domains as (
    select address_code, {{ list_join(collect_ordered('domain', 'domain_order'), "'・'") }} as domains
    from (select distinct address_code, domain, domain_order from {{ ref('int_child_signals_long') }}) as d
    group by address_code
),

supported as (
    select distinct address_code
    from {{ ref('int_programme_records') }}
    where programme = '要保護児童等支援' and is_ongoing
),

schools as (
    select address_code, {{ value_at_max('school_code', 'grade') }} as school_code,
           {{ value_at_max('school_name', 'grade') }} as school_name,
           max(grade) as grade
    from {{ ref('int_pupils') }}
    group by address_code
)

select
    c.address_code,
    c.household_code,
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
    sc.school_code,
    sc.school_name,
    sc.grade,
    coalesce(s.signal_ids, {{ empty_list() }}) as signal_ids,
    {% for id in var('rules')['signals'] %}
    {{ list_has('coalesce(s.signal_ids, ' ~ empty_list() ~ ')', "'" ~ id ~ "'") }} as signal_{{ id | lower }},
    {% endfor %}
    coalesce(s.domain_count, 0) as domain_count,
    coalesce(d.domains, '') as domains,
    coalesce(s.reasons, '') as reasons,
    coalesce(s.domain_count, 0) >= {{ var('rules')['min_domains'] }} as is_flagged,
    sp.address_code is not null as is_supported,
    {{ as_of() }} as as_of,
    '{{ var("rules")["version"] }}' as rule_version
from children as c
left join signals as s using (address_code)
left join domains as d using (address_code)
left join supported as sp using (address_code)
left join schools as sc using (address_code)
