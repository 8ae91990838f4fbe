"""The nightly job: every asset, in one process (DuckDB has one writer)."""

from __future__ import annotations

import dagster as dg

from pipelines.core.instance import night_max_runtime_seconds

nightly_job = dg.define_asset_job(
    name="nightly",
    selection=dg.AssetSelection.all(),
    description="The whole night: ingest every department's extract, link them in dbt, make the list.",
    executor_def=dg.in_process_executor,
    # the daemon's run monitoring terminates and fails a run of this job still going after this long
    tags={"dagster/max_runtime": str(night_max_runtime_seconds())},
)
