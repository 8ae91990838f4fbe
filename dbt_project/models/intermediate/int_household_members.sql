-- Each child with every resident of the same 世帯番号 (the child included, is_self).
-- A view: only int_child_measures reads it, once (its CTE); a table wrote 850 k pairs into the store
-- and read them back (fukuoka: 1.52 s for both models as tables, 1.25 s so).
{{ config(materialized='view') }}
select
    c.address_code as child_code,
    m.address_code as member_code,
    m.age as member_age,
    m.address_code = c.address_code as is_self
from {{ ref('int_children') }} as c
inner join {{ ref('int_residents') }} as m
    on m.household_code = c.household_code
