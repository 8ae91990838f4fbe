"""The home's Dagster instance (HOME/.dagster/dagster.yaml): where Dagster keeps runs, event logs, schedules
and sensor ticks, how many runs at once, and how long a night may run.

- Embedded default (``make run``, the tests): SQLite files under HOME/.dagster.
- In service: PostgreSQL, when ``MIMAMORI_DAGSTER_PG_URL`` is set where the night, the daemon and the
  webserver run (``postgresql+psycopg2://user@host:5432/db`` or ``postgresql+psycopg2://user@/db?host=/run/postgresql``;
  a password, if any, in that variable or in ``~/.pgpass``, never in a file of the repository or the home).
  The driver is named because SQLAlchemy 2.1 takes a bare ``postgresql://`` for psycopg 3, which
  dagster-postgres does not install.
  The file names the variable, not its value: ``storage: postgres: postgres_url: {env: …}``.

An operator's own dagster.yaml (one not starting with ``# Written by mimamori``) is left as it is.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipelines.core import config
from pipelines.core.home import Home

PG_URL_ENV = "MIMAMORI_DAGSTER_PG_URL"
WRITTEN_BY_US = "# Written by mimamori"

_COMMON = """\
telemetry:
  enabled: false
# Each run's stdout and stderr (dbt's output among them) go to HOME/logs/<as-of>_<run id>.log, whole; the UI
# shows every run's structured event log.
compute_logs:
  module: dagster._core.storage.noop_compute_log_manager
  class: NoOpComputeLogManager
# One run at a time: every run of this home reads or writes its DuckDB stores, which have one writer.
# Runs started by the schedule, the sensor or the UI wait in Dagster's run queue (dagster-daemon
# dequeues them); a `mimamori nightly` started meanwhile waits on HOME/nightly.lock or says which
# night is running.
concurrency:
  runs:
    max_concurrent_runs: 1
# The daemon watches the runs it launched: one that never starts is failed after start_timeout_seconds, one
# still running after max_runtime_seconds (config/operations.yml night_max_runtime_minutes) is terminated and
# failed. A `mimamori nightly` enforces the same limit on itself (pipelines/nightly.py) and stops when the
# daemon or an operator cancels its run.
run_monitoring:
  enabled: true
  start_timeout_seconds: 300
  cancel_timeout_seconds: 300
  max_runtime_seconds: {max_runtime}
  poll_interval_seconds: 60
# No automatic retry: a failed night is run again by the next schedule tick or by an operator once the cause
# is known (README, "When a night fails"); a retry would only repeat a rejected file's failure.
run_retries:
  enabled: false
"""

_SQLITE = """\
{marker}: runs and event logs in SQLite under this folder (the embedded default).
# Runs, schedules and event logs in SQLite under this folder (Dagster's defaults), the event log with one
# database engine per file instead of one per event (pipelines/core/dagster_storage.py: 8 s of a 25 s night).
run_storage:
  module: dagster._core.storage.runs
  class: SqliteRunStorage
  config: {{base_dir: "{dagster_home}/history"}}
event_log_storage:
  module: pipelines.core.dagster_storage
  class: FastSqliteEventLogStorage
  config: {{base_dir: "{dagster_home}/history/runs"}}
schedule_storage:
  module: dagster._core.storage.schedules
  class: SqliteScheduleStorage
  config: {{base_dir: "{dagster_home}/schedules"}}
"""

_POSTGRES = """\
{marker}: runs, event logs, schedules and sensor ticks in PostgreSQL (in service).
# The database is named by the environment variable {env} of the night, the daemon and the webserver
# (deploy/mimamori.env): no address or password in this file.
storage:
  postgres:
    postgres_url:
      env: {env}
"""


def night_max_runtime_seconds() -> int:
    """How long a night may run before it is failed as hung (config/operations.yml)."""
    return int(config.operations().get("night_max_runtime_minutes", 180)) * 60


class InstanceConfigError(ValueError):
    """The Dagster instance's settings in the environment cannot work."""


def storage_kind() -> str:
    """``postgres`` when this process is given a PostgreSQL database for Dagster, else ``sqlite``."""
    url = os.environ.get(PG_URL_ENV, "")
    if not url:
        return "sqlite"
    if not url.startswith("postgresql+psycopg2://"):
        raise InstanceConfigError(
            f"{PG_URL_ENV} must start with postgresql+psycopg2:// (the driver installed with dagster-postgres; "
            f"a bare postgresql:// makes SQLAlchemy look for psycopg 3), e.g. "
            f"postgresql+psycopg2://mimamori@/dagster?host=/run/postgresql")
    return "postgres"


def instance_yaml(dagster_home: Path, kind: str | None = None) -> str:
    kind = kind or storage_kind()
    head = (_POSTGRES.format(marker=WRITTEN_BY_US, env=PG_URL_ENV) if kind == "postgres"
            else _SQLITE.format(marker=WRITTEN_BY_US, dagster_home=dagster_home))
    return head + _COMMON.format(max_runtime=night_max_runtime_seconds())


def write_instance_config(home: Path | Home) -> Path:
    """HOME/.dagster/dagster.yaml for this process's storage; an operator's own file is left as it is."""
    dagster_home = Home(home).dagster
    dagster_home.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = dagster_home / "dagster.yaml"
    wanted = instance_yaml(dagster_home)
    current = path.read_text() if path.exists() else None
    if current is None or (current.startswith(WRITTEN_BY_US) and current != wanted):
        path.write_text(wanted)
    return path
