"""One nightly run, in process, recorded in the Dagster instance under HOME/.dagster."""

from __future__ import annotations

import os
import socket
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Iterator

import dagster as dg
from dagster._core.nux import set_nux_seen

from pipelines.core.audit import AuditLog
from pipelines.core.console import StepLines, captured_output, console_stream, first_error
from pipelines.core.duckdb_env import extension_directory
from pipelines.core.home import Home
from pipelines.core.keys import secret
from pipelines.core.lock import night_lock
from pipelines.core.process import TELEMETRY_OFF
from pipelines.core.resources import AS_OF_TAG
from pipelines.linkage.dbt_command import warm_dbt_process
from pipelines.linkage.manifest import ensure_dbt_manifest

DAGSTER_YAML = """\
# Written by mimamori: runs and event logs in SQLite under this folder (the embedded default).
telemetry:
  enabled: false
# Each run's stdout and stderr (dbt's output among them) go to HOME/logs/<as-of>_<run id>.log, whole; the UI
# shows every run's structured event log.
compute_logs:
  module: dagster._core.storage.noop_compute_log_manager
  class: NoOpComputeLogManager
# Runs, schedules and event logs in SQLite under this folder (Dagster's defaults), the event log with one
# database engine per file instead of one per event (pipelines/core/dagster_storage.py: 8 s of a 25 s night).
run_storage:
  module: dagster._core.storage.runs
  class: SqliteRunStorage
  config: {base_dir: "{dagster_home}/history"}
event_log_storage:
  module: pipelines.core.dagster_storage
  class: FastSqliteEventLogStorage
  config: {base_dir: "{dagster_home}/history/runs"}
schedule_storage:
  module: dagster._core.storage.schedules
  class: SqliteScheduleStorage
  config: {base_dir: "{dagster_home}/schedules"}
# One run at a time: every run of this home reads or writes its DuckDB stores, which have one writer.
# Runs started by the schedule, the sensor or the UI wait in Dagster's run queue (dagster-daemon
# dequeues them); a `mimamori nightly` started meanwhile waits on HOME/nightly.lock or says which
# night is running.
concurrency:
  runs:
    max_concurrent_runs: 1
"""


def prepare_environment(home: Path, landing: Path) -> None:
    """The run's environment: the instance under HOME/.dagster, telemetry off, the home for dbt's profile."""
    dagster_home = Home(home).dagster
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    wanted = DAGSTER_YAML.replace("{dagster_home}", str(dagster_home))
    # ours (older, or another home's copy) or missing: write it; an operator's own file is left as it is
    if not config.exists() or (config.read_text().startswith("# Written by mimamori") and config.read_text() != wanted):
        config.write_text(wanted)
    os.environ.update(TELEMETRY_OFF)
    os.environ.update({"DAGSTER_HOME": str(dagster_home), "MIMAMORI_HOME": str(home),
                       "MIMAMORI_LANDING": str(landing)})
    # The UI's first-visit dialog asks for an e-mail address for Dagster's newsletter: not for this office.
    set_nux_seen()
    os.environ.update(dbt_environment(home))
    secret(home, "restricted_db")  # created on the first night, before anything opens the store


def dbt_environment(home: Path) -> dict[str, str]:
    """What dbt's profile reads besides MIMAMORI_HOME: the packaged DuckDB extensions. The store's key is
    read by dbt's plugin from HOME/keys/ (or an operator's MIMAMORI_DB_KEY), so it is never put in this
    process's environment, where it would follow the process to the next home."""
    return {"MIMAMORI_DUCKDB_EXTENSIONS": extension_directory()}


PID_TAG, HOST_TAG = "mimamori/pid", "mimamori/host"


def close_killed_runs(instance: dg.DagsterInstance) -> list[str]:
    """Runs this host's `mimamori nightly` started whose process is gone (killed, or the machine lost
    power) stay 'started' for ever in the instance: mark them failed, so the UI shows no phantom night.
    Called while holding the home's lock, when no night of this home can be running."""
    closed = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED,
                                                                  dg.DagsterRunStatus.STARTING])):
        pid, host = run.tags.get(PID_TAG), run.tags.get(HOST_TAG)
        if host == socket.gethostname() and pid and not Path(f"/proc/{pid}").exists():
            instance.report_run_failed(run, f"the process of this run (pid {pid}) was killed before it finished; "
                                            "a later night found it and closed it")
            closed.append(run.run_id)
    return closed


@contextmanager
def _warm_dbt(home: Path, landing: Path) -> Iterator[None]:
    """The night's environment, then its warm dbt process (``pipelines.linkage.dbt_command``) for the block."""
    prepare_environment(home, landing)
    with warm_dbt_process():
        yield


@dataclass
class NightlyRun:
    result: dg.ExecuteInProcessResult
    summary: dict
    seconds: float
    log: Path
    error: tuple[str, str] | None = None  # (step, the first real error) of a failed night


def run_nightly(home: Path, landing: Path, as_of: date, *, quiet: bool = False, verbose: bool = False,
                wait: float = 0.0) -> NightlyRun:
    """One night, holding the home's lock (waiting up to ``wait`` seconds for it, else NightRunning).

    Prints a line per step and the summary (unless ``quiet``); Dagster's and dbt's logs go to
    HOME/logs/<as-of>_<run id>.log (also to the terminal with ``verbose``).
    """
    home, landing = Path(home).resolve(), Path(landing).resolve()
    run_id = str(uuid.uuid4())
    log = Home(home).run_log(as_of, run_id)
    with night_lock(home, as_of=as_of.isoformat(), run_id=run_id, wait=wait), _warm_dbt(home, landing):
        # imported once dbt's warm process has started: the definitions (every capability, pandera, Great
        # Expectations' client) import on this core while dbt imports on the other
        from pipelines.definitions import defs
        from pipelines.quality.summary import collect, print_summary

        console = None if quiet else console_stream()
        if console:
            console.write(f"mimamori nightly — as of {as_of} — home {home}\n")
        audit = AuditLog(Home(home).audit_log)
        started = time.perf_counter()
        audit.append("run_started", as_of=as_of.isoformat(), landing=str(landing), run_id=run_id)
        with dg.DagsterInstance.get() as instance:
            for stopped in close_killed_runs(instance):
                audit.append("run_killed", run_id=stopped)
            steps = StepLines(instance, run_id, console) if console else None
            with captured_output(log, echo=console if verbose else None):
                ensure_dbt_manifest()
                if steps:
                    steps.start()
                try:
                    result = defs.resolve_job_def("nightly").execute_in_process(
                        instance=instance, run_id=run_id, raise_on_error=False,
                        tags={AS_OF_TAG: as_of.isoformat(), PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()})
                finally:
                    if steps:
                        steps.stop()
        seconds = time.perf_counter() - started
        audit.append("run_finished", as_of=as_of.isoformat(), run_id=run_id, success=result.success,
                     seconds=round(seconds, 1))
        error = None if result.success else first_error(result, Home(home).dbt_target)
        if console:
            summary = print_summary(home, landing, as_of, result, seconds, log, error, console)
            console.close()
        else:
            summary = collect(home, as_of, result, landing)
    return NightlyRun(result, summary, seconds, log, error)
