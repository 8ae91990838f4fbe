-- Children the rules flag tonight whom a still valid 支援不要 / 対象外 review leaves off the list (no new
-- signal since): counted per office in the run summary and the 判定情報 sheet.
select address_code, office_code, office_name, last_review_result, last_reviewed_on, review_valid_until, as_of
from {{ ref('flag_candidates') }}
where is_left_off
