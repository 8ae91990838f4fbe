"""The one Definitions object of the mimamori code location (workspace.yaml loads this module): each capability
package's definitions merged, with the resources and the executor set once, here."""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg

from pipelines.analysis.definitions import defs as analysis
from pipelines.core.resources import MimamoriHome, NightLock
from pipelines.exports.definitions import defs as exports
from pipelines.governance.definitions import defs as governance
from pipelines.ingest.definitions import defs as ingest
from pipelines.linkage.assets import dbt_project
from pipelines.linkage.definitions import defs as linkage
from pipelines.linkage.resources import NightlyDbtCliResource
from pipelines.operations.definitions import defs as operations
from pipelines.quality.definitions import defs as quality
from pipelines.quality.resources import QualitySuites
from pipelines.reviews.definitions import defs as reviews
from pipelines.rights.definitions import defs as rights

resources = dg.Definitions(
    resources={
        "home": MimamoriHome(home=dg.EnvVar("MIMAMORI_HOME"), landing=dg.EnvVar("MIMAMORI_LANDING")),
        "night_lock": NightLock(home=dg.EnvVar("MIMAMORI_HOME")),
        "quality_suites": QualitySuites(home=dg.EnvVar("MIMAMORI_HOME")),
        # dbt of this environment, whether or not the venv is on PATH (pipelines/linkage/dbt_command.py)
        "dbt": NightlyDbtCliResource(project_dir=dbt_project,
                                     dbt_executable=str(Path(sys.executable).with_name("mimamori-dbt"))),
    },
    executor=dg.in_process_executor,
)

# in the data's path: ingest → reviews, rights → linkage (dbt) → analysis, exports → governance → quality
defs = dg.Definitions.merge(ingest, reviews, rights, linkage, analysis, exports, governance, quality, operations,
                            resources)
