"""The nightly job: every asset, in one process (DuckDB has one writer)."""

from __future__ import annotations

import dagster as dg

nightly_job = dg.define_asset_job(
    name="nightly",
    selection=dg.AssetSelection.all(),
    description="The whole night: ingest every department's extract, link them in dbt, make the list.",
    executor_def=dg.in_process_executor,
)
