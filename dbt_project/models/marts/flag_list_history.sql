-- Every night's list, kept: 前回比 (新規/継続/再掲), 解除 and the work queue are read from it on later nights,
-- reviews are compared with the signals a child had on the reviewed list, and a resident's disclosure
-- report shows each night's entry.
{{ config(materialized='incremental', unique_key='as_of', incremental_strategy=night_replace_strategy(), partition_by=night_partition(),
          on_schema_change='append_new_columns') }}

select
    as_of, address_code, office_code, domain_count, signal_ids, rule_version,
    domains, reasons, support_status, change_since_previous, last_reviewed_on, last_review_result
from {{ ref('flagged_children') }}
