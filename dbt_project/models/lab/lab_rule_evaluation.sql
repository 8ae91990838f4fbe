-- The rules in force and a candidate rule set, side by side, on the latest night's measures.
{{ config(materialized='table', tags=['lab']) }}
{% set candidate = var('candidate_rules') or var('rules') %}

with m as (
    select * from {{ source('analysis', 'child_measures') }}
    where as_of = (select max(as_of) from {{ source('analysis', 'child_measures') }})
)

select
    m.as_of, m.child_token, m.age, m.age_band, m.sex, m.town_code, m.office_code, m.household_type,
    {%- for side, rules in [('current', var('rules')), ('candidate', candidate)] %}
    {%- for id in rules['signals'] %}
    {{ fires(id, rules, 'm') }} as {{ side }}_{{ id | lower }},
    {%- endfor %}
    {{ domain_count(rules, 'm') }} as {{ side }}_domain_count,
    {{ domain_count(rules, 'm') }} >= {{ rules['min_domains'] }} as {{ side }}_flagged,
    not ({% for id in rules['signals'] %}({{ fires(id, rules, 'm') }} and not ({{ rests_on_others(id, rules, 'm') }})){% if not loop.last %} or {% endif %}{% endfor %}) as {{ side }}_others_only,
    {%- endfor %}
    m.is_flagged as flagged_that_night
from m
