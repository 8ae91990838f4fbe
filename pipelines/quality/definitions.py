"""The quality's definitions: the nightly report."""

import dagster as dg

from pipelines.quality.assets import nightly_report

defs = dg.Definitions(assets=[nightly_report])
