"""The one Definitions object of the mimamori code location (workspace.yaml loads this module): each capability
package's definitions merged, with the resources and the executor set once, here."""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg

# each package's definitions as a module, not its Definitions object: a code location allows one at this scope
import pipelines.analysis.definitions
import pipelines.governance.definitions
import pipelines.ingest.definitions
import pipelines.linkage.definitions
import pipelines.lists.definitions
import pipelines.matching.definitions
import pipelines.operations.definitions
import pipelines.outcomes.definitions
import pipelines.quality.definitions
import pipelines.reviews.definitions
import pipelines.rights.definitions
from pipelines.core.resources import MimamoriHome, NightLock
from pipelines.linkage.assets import dbt_project
from pipelines.linkage.resources import NightlyDbtCliResource
from pipelines.quality.resources import QualitySuites

# in the data's path: ingest → matching, reviews, rights → linkage (dbt) → analysis, lists → governance → quality
CAPABILITIES = [pipelines.ingest, pipelines.matching, pipelines.reviews, pipelines.rights, pipelines.linkage, pipelines.analysis,
                pipelines.lists, pipelines.governance, pipelines.outcomes, pipelines.quality,
                pipelines.operations]


def shared_resources() -> dg.Definitions:
    """The resources every package's assets use, and the executor (DuckDB has one writer: one process)."""
    return dg.Definitions(
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


defs = dg.Definitions.merge(*(package.definitions.defs for package in CAPABILITIES), shared_resources())
