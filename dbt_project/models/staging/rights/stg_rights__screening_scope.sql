select distinct address_code
from {{ source('rights', 'screening_scope') }}
