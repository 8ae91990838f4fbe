"""One nightly run, in process, recorded in the Dagster instance under HOME/.dagster."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg

TELEMETRY_OFF = {"DAGSTER_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                 "GX_ANALYTICS_ENABLED": "false"}
DAGSTER_YAML = """\
# Written by mimamori: runs and event logs in SQLite under this folder (the embedded default).
telemetry:
  enabled: false
"""


def prepare_environment(home: Path, landing: Path) -> None:
    """The run's environment: the instance under HOME/.dagster, telemetry off, the home for dbt's profile."""
    dagster_home = home / ".dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    if not (dagster_home / "dagster.yaml").exists():
        (dagster_home / "dagster.yaml").write_text(DAGSTER_YAML)
    os.environ.update(TELEMETRY_OFF)
    os.environ.update({"DAGSTER_HOME": str(dagster_home), "MIMAMORI_HOME": str(home),
                       "MIMAMORI_LANDING": str(landing)})
    os.environ.update(dbt_environment(home))


def dbt_environment(home: Path) -> dict[str, str]:
    """What dbt's profile reads: the store's key (handed over in the environment, never on a command line)
    and the packaged DuckDB extensions."""
    from pipelines.keys import secret
    from pipelines.warehouse import extension_directory

    return {"MIMAMORI_DB_KEY": secret(home, "restricted_db"), "MIMAMORI_DUCKDB_EXTENSIONS": extension_directory()}


@dataclass
class NightlyRun:
    result: dg.ExecuteInProcessResult
    summary: dict
    seconds: float


def run_nightly(home: Path, landing: Path, as_of: date, *, quiet: bool = False) -> NightlyRun:
    from pipelines.cli import ensure_dbt_manifest
    from pipelines.definitions import defs
    from pipelines.resources import AS_OF_TAG
    from pipelines.summary import print_summary, collect

    home, landing = Path(home).resolve(), Path(landing).resolve()
    prepare_environment(home, landing)
    ensure_dbt_manifest()
    from pipelines.audit import AuditLog

    audit = AuditLog(home / "audit" / "audit.log")
    started = time.perf_counter()
    audit.append("run_started", as_of=as_of.isoformat(), landing=str(landing))
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def("nightly").execute_in_process(
            instance=instance, tags={AS_OF_TAG: as_of.isoformat()}, raise_on_error=False)
    seconds = time.perf_counter() - started
    audit.append("run_finished", as_of=as_of.isoformat(), run_id=result.run_id, success=result.success,
                 seconds=round(seconds, 1))
    summary = collect(home, as_of, result, landing) if quiet else print_summary(home, landing, as_of, result, seconds)
    return NightlyRun(result, summary, seconds)
