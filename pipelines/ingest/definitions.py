"""The ingest's definitions: one asset per department's extract, with its checks."""

import dagster as dg

from pipelines.ingest.assets import extract_assets

defs = dg.Definitions(assets=extract_assets)
