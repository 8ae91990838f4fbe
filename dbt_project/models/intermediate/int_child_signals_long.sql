-- Every signal that fired for a child on T, from the four domains, with its domain and order.
with fired as (
    select * from {{ ref('int_signals_economic') }}
    union all
    select * from {{ ref('int_signals_care') }}
    union all
    select * from {{ ref('int_signals_school') }}
    union all
    select * from {{ ref('int_signals_health') }}
)

select
    f.address_code,
    f.signal_id,
    {{ domain_of('f.signal_id') }} as domain,
    {{ domain_order(domain_of('f.signal_id')) }} as domain_order,
    {{ signal_order('f.signal_id') }} as signal_order,
    f.reason
from fired as f
inner join {{ ref('int_children') }} as c using (address_code)
