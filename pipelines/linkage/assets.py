"""The dbt models (dbt-duckdb) as Dagster assets, downstream of the ingest assets; dbt tests are checks."""


import dagster as dg
from dagster_dbt import DbtProject, dbt_assets

from pipelines.core.config import PROJECT_ROOT
from pipelines.core.failpoints import failpoint
from pipelines.core.resources import MimamoriHome, NightLock, run_as_of
from pipelines.linkage.resources import NightlyDbtCliResource
from pipelines.linkage.translator import MimamoriTranslator
from pipelines.linkage.vars import as_of_in_environment, dbt_vars
from pipelines.quality.resources import QualitySuites

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
dbt_project.prepare_if_dev()  # only under `dagster dev`; elsewhere `make` runs `dbt parse` first


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, dagster_dbt_translator=MimamoriTranslator(),
            exclude="tag:lab",  # the analysts' lab runs on its own target (pipelines/analysis/lab.py)
            retry_policy=dg.RetryPolicy(max_retries=1, delay=30))  # e.g. the store still locked by a reader
def mimamori_dbt_models(context: dg.AssetExecutionContext, dbt: NightlyDbtCliResource, home: MimamoriHome,
                        night_lock: NightLock, quality_suites: QualitySuites):
    """Staging views, linkage tables and the marts: the flag list on T with its reasons.

    dbt's unit tests are left to the test suite (they test the SQL, not the night's data); the data
    tests run every night as asset checks.
    """
    args = ["build", "--exclude-resource-type", "unit_test", "--vars", dbt_vars()]
    worker = quality_suites.start()  # GE imports beside dbt, for the report (pipelines/quality/gx_worker.py)
    context.log.info(f"Great Expectations' worker started beside dbt (pid {worker.process.pid})")
    with as_of_in_environment(run_as_of(context)):
        for number, event in enumerate(dbt.cli(args, context=context, target_path=home.layout.dbt_target).stream()):
            if number == 5:
                failpoint("dbt")  # crash tests: killed with dbt's process while it builds the models
            yield event
