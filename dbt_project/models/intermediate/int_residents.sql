-- Residents (住民) of the registry on T, with their completed age on T.
-- A view: a table would copy every resident's name and address again (5 s at 1.6 M residents).
{{ config(materialized='view') }}

select
    address_code,
    household_code,
    full_name,
    full_name_kana,
    birth_date,
    {{ age_on('birth_date', as_of()) }} as age,
    sex,
    relation,
    address,
    area_code
from {{ ref('stg_registry__residents') }}
where is_resident
  and birth_date <= {{ as_of() }}
