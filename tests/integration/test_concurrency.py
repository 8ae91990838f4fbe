"""One night at a time per home: a second `mimamori nightly` says which night runs or waits for it; a run
Dagster launches takes the same lock; the home's run queue runs one night at a time."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import AS_OF, MIMAMORI, nightly


def wait_for_lock_holder(home: Path, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            holder = json.loads((home / "nightly.lock").read_text() or "{}")
        except (OSError, ValueError):
            holder = {}
        if holder.get("pid"):
            return holder
        time.sleep(0.1)
    raise AssertionError("the first night never took the lock")


@pytest.fixture(scope="module")
def two_nights_at_once(clean_municipality, tmp_path_factory):
    """A night on an empty home; while it runs, a second night with --wait 0 and a third with --wait 600.
    The first night, never interrupted, is also the reference of the crash tests below."""
    landing, home = clean_municipality / "landing", tmp_path_factory.mktemp("concurrent") / "home"
    first = subprocess.Popen([MIMAMORI, "nightly", "--landing", str(landing), "--home", str(home), "--as-of",
                              str(AS_OF)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        holder = wait_for_lock_holder(home)
        refused = nightly(landing, home)  # --wait 0
        patient = nightly(landing, home, "--wait", "600", "--verbose")
    finally:
        first_out = first.communicate(timeout=600)
    assert first.returncode == 0, first_out
    return {"home": home, "first": first, "holder": holder, "refused": refused, "patient": patient}


def test_a_second_night_on_the_same_home_says_which_night_is_running(two_nights_at_once):
    first, holder, refused = two_nights_at_once["first"], two_nights_at_once["holder"], two_nights_at_once["refused"]
    assert holder["pid"] == first.pid and holder["as_of"] == str(AS_OF)
    assert refused.returncode == 75
    assert (f"another night is running on this home: as of {AS_OF}, pid {first.pid} on {holder['host']}"
            in refused.stderr)


def test_a_night_told_to_wait_runs_after_the_running_one_never_interleaved(two_nights_at_once):
    patient, home = two_nights_at_once["patient"], two_nights_at_once["home"]
    assert patient.returncode == 0, patient.stdout[-2000:]
    assert "STEP_SUCCESS" in patient.stdout  # --verbose streams Dagster's log too
    events = [(e["event"], e["details"].get("run_id")) for e in
              map(json.loads, (home / "audit" / "audit.log").read_text(encoding="utf-8").splitlines())
              if e["event"] in ("run_started", "run_finished")]
    assert [e for e, _ in events] == ["run_started", "run_finished"] * 2  # each finished before the next began
    assert events[0][1] == events[1][1] and events[2][1] == events[3][1]


def test_a_run_launched_by_dagster_while_a_night_holds_the_home_fails_at_once_naming_it(clean_municipality, tmp_path):
    """Runs from the schedule, the sensor or the UI take the same lock, through the night_lock resource."""
    import dagster as dg

    from pipelines.definitions import defs
    from pipelines.nightly import prepare_environment

    home = tmp_path / "home"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path\n"
                               "from pipelines.core.lock import night_lock\n"
                               "with night_lock(Path(sys.argv[1]), as_of='2026-11-29'):\n"
                               "    print('held', flush=True); time.sleep(120)", str(home)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        prepare_environment(home, clean_municipality / "landing")
        result = defs.resolve_job_def("nightly").execute_in_process(
            instance=dg.DagsterInstance.ephemeral(), raise_on_error=False, tags={"mimamori/as_of": str(AS_OF)})
    finally:
        holder.kill()
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "RESOURCE_INIT_FAILURE")
    assert f"another night is running on this home: as of 2026-11-29, pid {holder.pid}" in str(
        failure.event_specific_data.error)
    assert not (home / "warehouse" / "restricted.duckdb").exists()  # nothing was touched


def test_the_homes_run_queue_runs_one_night_at_a_time(nightly_home):
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(nightly_home["home"] / ".dagster"))
    assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1


