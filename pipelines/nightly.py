"""One nightly run, in process, recorded in the Dagster instance under HOME/.dagster."""

from __future__ import annotations

import os
import socket
import threading
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
from pipelines.core.home import Home, private_home
from pipelines.core.keys import secret
from pipelines.core.lock import night_lock
from pipelines.core.instance import night_max_runtime_seconds, write_instance_config
from pipelines.core.process import TELEMETRY_OFF, kill_descendants
from pipelines.core.resources import AS_OF_TAG
from pipelines.linkage.dbt_command import warm_dbt_process
from pipelines.linkage.manifest import ensure_dbt_manifest


def prepare_environment(home: Path, landing: Path) -> None:
    """The run's environment: the Dagster instance of HOME/.dagster, telemetry off, the home for dbt's profile."""
    write_instance_config(home)  # SQLite under HOME/.dagster, or PostgreSQL in service
    os.environ.update(TELEMETRY_OFF)
    os.environ.update({"DAGSTER_HOME": str(Home(home).dagster), "MIMAMORI_HOME": str(home),
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


EXIT_STOPPED = 124  # as timeout(1): the night was stopped, hung or cancelled
MAX_RUNTIME_ENV = "MIMAMORI_NIGHT_MAX_RUNTIME_SECONDS"  # overrides config/operations.yml for one night


class NightWatch(threading.Thread):
    """Stops this night when it runs longer than the night's maximum, or when its run is cancelled in Dagster
    (an operator's Terminate in the UI, or the daemon's run monitoring, which cannot reach a process it did
    not launch). Stopping marks the run failed, writes the audit log, kills dbt's and GE's processes and
    exits: the lock goes with the process, and the next night makes the stores whole, as after a kill."""

    def __init__(self, instance: dg.DagsterInstance, run_id: str, as_of: date, audit: AuditLog, log: Path,
                 seconds: float, poll: float = 2.0):
        super().__init__(name="mimamori-night-watch", daemon=True)
        self.instance, self.run_id, self.as_of, self.audit, self.log = instance, run_id, as_of, audit, log
        self.seconds, self.poll, self.done = seconds, poll, threading.Event()
        self.terminal = os.dup(2)  # taken before the night's output goes to its log: the operator's stderr

    def run(self) -> None:
        started = time.monotonic()
        while not self.done.wait(self.poll):
            if time.monotonic() - started > self.seconds:
                return self.stop_night(f"it ran longer than the night's maximum of {self.seconds:.0f} s "
                                       "(config/operations.yml night_max_runtime_minutes)")
            run = self.instance.get_run_by_id(self.run_id)
            if run is not None and run.status in (dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.CANCELED):
                return self.stop_night("its run was cancelled in Dagster (an operator, or the daemon's run monitoring)")

    def stop_night(self, reason: str) -> None:
        message = f"the night of {self.as_of} (run {self.run_id}) was stopped: {reason}"
        try:
            run = self.instance.get_run_by_id(self.run_id)
            if run is not None and not run.is_finished:
                self.instance.report_run_failed(run, message)
            self.audit.append("run_stopped", as_of=self.as_of.isoformat(), run_id=self.run_id, reason=reason)
        finally:
            sentence = (f"mimamori nightly: {message}. What it loaded before is kept; the next night makes the "
                        f"stores whole. Its log: {self.log}\n")
            with open(self.log, "a", encoding="utf-8") as log:  # (the log's pump thread dies with us)
                log.write(sentence)
            os.write(self.terminal, sentence.encode())
            kill_descendants()
            os._exit(EXIT_STOPPED)


def max_runtime_seconds() -> float:
    return float(os.environ.get(MAX_RUNTIME_ENV) or night_max_runtime_seconds())


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
    private_home(home)  # owner-only, or refused before anything is written
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
            watch = NightWatch(instance, run_id, as_of, audit, log, max_runtime_seconds())
            watch.start()
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
                    watch.done.set()
                    os.close(watch.terminal)
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
