"""Linkage (連携): the dbt project on the restricted store (models, signals, the list), run by Dagster through a
warm dbt process, and the same models on Spark."""
