-- The population: residents under 18 on T, with the support office of their town block. Under consent
-- (governance.yml lawful_basis: consent) only the children whose guardian's consent stands on T.
with consented as (
    select address_code from {{ ref('stg_rights__screening_scope') }}
)

select
    *,
    {{ office_for('area_code', 'code') }} as office_code,
    {{ office_for('area_code', 'name') }} as office_name,
    {{ office_is_default('area_code') }} as is_default_office
from {{ ref('int_residents') }}
where age < 18
{%- if var('governance', {}).get('lawful_basis') == 'consent' %}
  and address_code in (select address_code from consented)
{%- endif %}
