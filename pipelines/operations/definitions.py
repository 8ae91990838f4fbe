"""The operations' definitions: the nightly job, its schedule, the landing sensor, freshness checks."""

import dagster as dg

from pipelines.operations.jobs import nightly_job
from pipelines.operations.schedules import freshness_checks, landing_sensor, nightly_schedule

defs = dg.Definitions(jobs=[nightly_job], schedules=[nightly_schedule], sensors=[landing_sensor], asset_checks=freshness_checks)
