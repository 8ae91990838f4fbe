"""The one Definitions object of the mimamori code location (workspace.yaml loads this module)."""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg

from pipelines.defs.analysis.assets import analysis_marts
from pipelines.defs.export.assets import caseworker_lists
from pipelines.defs.feedback.assets import caseworker_reviews
from pipelines.defs.governance.assets import retention_purge
from pipelines.defs.ingest.assets import extract_assets
from pipelines.defs.jobs import nightly_job
from pipelines.defs.lab.jobs import evaluate_rules
from pipelines.defs.operations import freshness_checks, landing_sensor, nightly_schedule
from pipelines.defs.quality.assets import nightly_report
from pipelines.defs.rights.assets import residents_requests, rights_applied
from pipelines.defs.linkage.assets import dbt_project, mimamori_dbt_models
from pipelines.resources import MimamoriHome, NightLock, NightlyDbtCliResource, QualitySuites

defs = dg.Definitions(
    assets=[*extract_assets, caseworker_reviews, residents_requests, rights_applied, mimamori_dbt_models, caseworker_lists, analysis_marts, retention_purge,
            nightly_report],
    asset_checks=freshness_checks,
    jobs=[nightly_job, evaluate_rules],
    schedules=[nightly_schedule],
    sensors=[landing_sensor],
    resources={
        "home": MimamoriHome(home=dg.EnvVar("MIMAMORI_HOME"), landing=dg.EnvVar("MIMAMORI_LANDING")),
        "night_lock": NightLock(home=dg.EnvVar("MIMAMORI_HOME")),
        "quality_suites": QualitySuites(home=dg.EnvVar("MIMAMORI_HOME")),
        # dbt of this environment, whether or not the venv is on PATH (pipelines/dbt_command.py)
        "dbt": NightlyDbtCliResource(project_dir=dbt_project,
                                     dbt_executable=str(Path(sys.executable).with_name("mimamori-dbt"))),
    },
    executor=dg.in_process_executor,
)
