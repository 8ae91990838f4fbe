"""Dagster definitions, one folder per step of the data's path: ingest → linkage (dbt) → export."""
