"""In service, the Dagster instance on PostgreSQL (a real server these tests start: initdb in a temporary
folder, a unix socket only): a night, a killed night marked failed, the schedule's and the sensor's ticks,
the run queue that runs one night at a time under dagster-daemon, and a hung or cancelled night stopped
with its lock released."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipelines.core.instance import PG_URL_ENV
from pipelines.core.lock import night_lock
from pipelines.core.process import TELEMETRY_OFF
from pipelines.nightly import EXIT_STOPPED, MAX_RUNTIME_ENV, dbt_environment
from tests.helpers import AS_OF, MIMAMORI, PostgresServer

PROJECT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def postgres():
    server = PostgresServer()
    if not server.available:
        pytest.skip("no PostgreSQL server programs (Debian's postgresql: .ci/system-packages installs it)")
    server.start()
    yield server
    server.stop()


def database(postgres, name: str) -> str:
    postgres.psql("postgres", f"CREATE DATABASE {name}")
    return postgres.url(name)


def night(landing: Path, home: Path, url: str, **env) -> subprocess.Popen:
    return subprocess.Popen([MIMAMORI, "nightly", "--landing", str(landing), "--home", str(home), "--as-of",
                             str(AS_OF)], env={**os.environ, PG_URL_ENV: url, **env}, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def runs(postgres, name: str) -> list[dict]:
    if postgres.psql(name, "SELECT to_regclass('runs') IS NULL") == [["t"]]:
        return []  # before the first process made Dagster's tables
    rows = postgres.psql(name, "SELECT run_id, status, run_body FROM runs ORDER BY create_timestamp")
    return [{"run_id": r, "status": s, "tags": json.loads(b).get("tags", {})} for r, s, b in rows]


def test_a_night_and_a_killed_night_are_kept_in_postgresql_and_a_backup_dumps_them(postgres, clean_municipality,
                                                                                   tmp_path, monkeypatch):
    from pipelines.service.backup import PG_DUMP, backup, verify_backup

    url, home, landing = database(postgres, "nights"), tmp_path / "home", clean_municipality / "landing"
    killed = night(landing, home, url, MIMAMORI_FAILPOINT="ingest_load:jumin")
    assert killed.wait(timeout=300) == -signal.SIGKILL
    [left] = runs(postgres, "nights")
    assert left["status"] == "STARTED"  # as a power cut leaves it
    good = night(landing, home, url)
    out, err = good.communicate(timeout=600)
    assert good.returncode == 0, err[-3000:]
    killed_run, good_run = runs(postgres, "nights")
    assert (killed_run["run_id"], killed_run["status"]) == (left["run_id"], "FAILURE")  # closed by the next night
    assert good_run["status"] == "SUCCESS" and good_run["tags"]["mimamori/as_of"] == str(AS_OF)
    events = postgres.psql("nights", f"SELECT count(*) FROM event_logs WHERE run_id = '{good_run['run_id']}'")
    assert int(events[0][0]) > 100
    # the home's instance names the variable, never the database's address; no SQLite history beside it
    config = (home / ".dagster" / "dagster.yaml").read_text()
    assert f"env: {PG_URL_ENV}" in config and str(postgres.root) not in config
    assert not list((home / ".dagster").glob("**/*.db"))
    assert (home.stat().st_mode & 0o777) == 0o700
    # a backup of this home dumps the instance with pg_dump, in its manifest like every file
    monkeypatch.setenv(PG_URL_ENV, url)
    done = backup(home, tmp_path / "backups")
    assert done.pg_dump == f"pg_dump → {PG_DUMP}" and PG_DUMP in verify_backup(done.folder)["files"]
    listed = subprocess.run(["pg_restore", "--list", str(done.folder / PG_DUMP)], capture_output=True, text=True)
    assert listed.returncode == 0 and "TABLE DATA public runs" in listed.stdout


def test_a_bare_postgresql_url_is_refused_naming_the_driver(clean_municipality, tmp_path):
    refused = night(clean_municipality / "landing", tmp_path / "home", "postgresql://mimamori@/dagster")
    _, err = refused.communicate(timeout=120)
    assert refused.returncode == 2
    assert f"{PG_URL_ENV} must start with postgresql+psycopg2://" in err


def test_the_daemon_runs_the_schedules_and_the_sensors_nights_one_at_a_time(postgres, clean_municipality,
                                                                          tmp_path, monkeypatch):
    import dagster as dg
    import dagster._daemon  # noqa: F401  (the scheduler's module imports the daemon's first)
    from dagster._core.scheduler.instigation import TickStatus
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster._scheduler.scheduler import launch_scheduled_runs

    from pipelines.core.instance import write_instance_config

    url, home = database(postgres, "daemon"), tmp_path / "home"
    home.mkdir(mode=0o700)
    env = {**TELEMETRY_OFF, **dbt_environment(home), PG_URL_ENV: url, "DAGSTER_HOME": str(home / ".dagster"),
           "MIMAMORI_HOME": str(home), "MIMAMORI_LANDING": str(clean_municipality / "landing")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    write_instance_config(home)
    instance = dg.DagsterInstance.get()
    with WorkspaceProcessContext(instance, WorkspaceFileTarget(paths=[str(PROJECT / "workspace.yaml")])) as context:
        location = next(iter(context.create_request_context().get_code_location_entries().values())).code_location
        repository = next(iter(location.get_repositories().values()))
        schedule, sensor = repository.get_schedule("nightly_schedule"), repository.get_sensor("landing_sensor")
        instance.start_schedule(schedule)
        instance.start_sensor(sensor)
        # the scheduler's own iteration, as the daemon runs it, up to just after the next 02:00 in Tokyo
        list(launch_scheduled_runs(context, logging.getLogger("test"), iteration_times={},
                                   end_datetime_utc=datetime.now(timezone.utc) + timedelta(days=1, minutes=1)))
    [tick] = instance.get_ticks(schedule.get_remote_origin_id(), schedule.selector_id)
    assert tick.status == TickStatus.SUCCESS and len(tick.run_ids) == 1
    assert instance.get_run_by_id(tick.run_ids[0]).status == dg.DagsterRunStatus.QUEUED

    log = tmp_path / "daemon.log"
    daemon = subprocess.Popen([str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w",
                               str(PROJECT / "workspace.yaml")], cwd=PROJECT, env={**os.environ, **env},
                              stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:  # until the first night has finished and the queue has started the second (not waited for)
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline:
            records = instance.get_run_records()
            if len(records) == 2 and sum(r.dagster_run.is_finished for r in records) >= 1 and all(
                    r.start_time for r in records):
                break
            assert daemon.poll() is None, log.read_text()[-3000:]
            time.sleep(1)
        else:
            pytest.fail(f"the daemon did not run two nights in 400 s: {[r.dagster_run.status for r in records]}"
                        f"\n{log.read_text()[-3000:]}")
    finally:  # the daemon, its code server and the second night's run worker (systemd stops the unit's group so)
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=60)
        with contextlib.suppress(ProcessLookupError):  # the code server waits up to 60 s for its calls on SIGTERM
            os.killpg(daemon.pid, signal.SIGKILL)
    [sensor_tick, *_] = instance.get_ticks(sensor.get_remote_origin_id(), sensor.selector_id)
    assert sensor_tick.status == TickStatus.SUCCESS and len(sensor_tick.run_ids) == 1
    first, second = sorted(records, key=lambda r: r.start_time)
    assert first.dagster_run.status == dg.DagsterRunStatus.SUCCESS
    assert {r.dagster_run.run_id for r in records} == {tick.run_ids[0], sensor_tick.run_ids[0]}
    assert first.end_time <= second.start_time  # one at a time: the queue held the second
    # both are in PostgreSQL, none in a file of the home
    assert len(runs(postgres, "daemon")) == 2 and not list((home / ".dagster").glob("**/*.db"))


def stopped_night(postgres, landing: Path, home: Path, name: str, **env) -> tuple[subprocess.Popen, str]:
    """A night hung in the registry's load (a failpoint), and its run's id once it has started."""
    url = database(postgres, name)
    hung = night(landing, home, url, MIMAMORI_FAILPOINT="hang:ingest_load:jumin", **env)
    deadline = time.monotonic() + 300
    while not (started := [r for r in runs(postgres, name) if r["status"] == "STARTED"]):
        assert time.monotonic() < deadline and hung.poll() is None, hung.communicate()
        time.sleep(0.5)
    return hung, started[0]["run_id"]


def group_alive(group: int, within: float) -> list[str]:
    """The live (not zombie) processes left in a process group after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        left = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == group and fields[0] != "Z":
                left.append((stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:200])
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def assert_stopped(hung: subprocess.Popen, err: str, home: Path, run_id: str, postgres, name: str, reason: str) -> None:
    assert hung.returncode == EXIT_STOPPED
    assert f"was stopped: {reason}" in err and str(home / "logs") in err
    assert [r["status"] for r in runs(postgres, name)] == ["FAILURE"]
    assert not group_alive(hung.pid, within=10), "dbt's warm process or GE's worker outlived the night"
    with night_lock(home, wait=0):  # released
        pass
    [stopped] = [e for e in map(json.loads, (home / "audit" / "audit.log").read_text().splitlines())
                 if e["event"] == "run_stopped"]
    assert stopped["details"]["run_id"] == run_id


def test_a_hung_night_is_failed_at_its_maximum_run_time_and_its_lock_released(postgres, clean_municipality,
                                                                             tmp_path):
    # the clock starts once the night's process is up (imports done); its run is made within a second of it
    home, url = tmp_path / "home", database(postgres, "hung")
    hung = night(clean_municipality / "landing", home, url, MIMAMORI_FAILPOINT="hang:ingest_load:jumin",
                 **{MAX_RUNTIME_ENV: "8"})
    _, err = hung.communicate(timeout=300)
    [run] = runs(postgres, "hung")
    assert_stopped(hung, err, home, run["run_id"], postgres, "hung", "it ran longer than the night's maximum of 8 s")


def test_a_night_cancelled_in_dagster_stops(postgres, clean_municipality, tmp_path, monkeypatch):
    """The UI's Terminate, or the daemon's run monitoring, marks the run canceling; the night sees it."""
    import dagster as dg

    home = tmp_path / "home"
    hung, run_id = stopped_night(postgres, clean_municipality / "landing", home, "cancelled")
    monkeypatch.setenv(PG_URL_ENV, postgres.url("cancelled"))
    with dg.DagsterInstance.from_config(str(home / ".dagster")) as instance:
        instance.report_run_canceling(instance.get_run_by_id(run_id), message="Terminate pressed in the UI")
    _, err = hung.communicate(timeout=120)
    assert_stopped(hung, err, home, run_id, postgres, "cancelled", "its run was cancelled in Dagster")
