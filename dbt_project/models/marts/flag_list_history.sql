-- Every night's list, kept: 前回比 (新規/継続) and 解除 are read from it the next night.
{{ config(materialized='incremental', unique_key='as_of', incremental_strategy='delete+insert') }}

select as_of, address_code, office_code, domain_count, signal_ids, rule_version
from {{ ref('flagged_children') }}
