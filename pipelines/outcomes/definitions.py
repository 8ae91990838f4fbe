"""The 効果検証 job: an analyst launches it in the UI (optionally with a window and a past night)."""

import dagster as dg

from pipelines.outcomes.jobs import evaluate_outcomes_job

defs = dg.Definitions(jobs=[evaluate_outcomes_job])
