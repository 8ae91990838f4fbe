"""The governance's definitions: the retention purge."""

import dagster as dg

from pipelines.governance.assets import retention_purge

defs = dg.Definitions(assets=[retention_purge])
