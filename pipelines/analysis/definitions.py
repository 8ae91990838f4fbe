"""The analysts' definitions: the pseudonymised marts, and the rule lab's job."""

import dagster as dg

from pipelines.analysis.assets import analysis_marts
from pipelines.analysis.jobs import evaluate_rules

defs = dg.Definitions(assets=[analysis_marts], jobs=[evaluate_rules])
