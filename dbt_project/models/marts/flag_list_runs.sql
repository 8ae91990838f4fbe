-- One row per night the list was made, even when nobody was flagged.
{{ config(materialized='incremental', unique_key='as_of', incremental_strategy=night_replace_strategy(), partition_by=night_partition()) }}

select
    {{ as_of() }} as as_of,
    '{{ var("rules")["version"] }}' as rule_version,
    (select count(*) from {{ ref('flagged_children') }}) as flagged_children,
    (select count(*) from {{ ref('child_signals') }}) as children,
    current_timestamp as made_at
