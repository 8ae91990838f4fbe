"""The night's warm dbt process (pipelines.linkage.dbt_command): `mimamori-dbt` hands it one command, which runs
there with the command's output, exit code, folder and environment; anything else runs dbt as before, and
neither a killed command nor an unused warm process leaves dbt running."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.linkage.dbt_command import SERVER_ENV, warm_dbt_process
from tests.helpers import tiny_dbt_project

pytestmark = pytest.mark.slow  # real dbt or Great Expectations processes: make test, not make check

MIMAMORI_DBT = str(Path(sys.executable).with_name("mimamori-dbt"))


def _command(root: Path, *extra: str) -> list[str]:
    return [MIMAMORI_DBT, "--log-format", "json", "build", "--project-dir", str(root), "--profiles-dir", str(root),
            *extra]


def _run(root: Path, *extra: str) -> tuple[subprocess.CompletedProcess, set[int]]:
    done = subprocess.run(_command(root, *extra), capture_output=True, text=True, timeout=180, cwd=root)
    pids = {json.loads(line)["info"]["pid"] for line in done.stdout.splitlines() if line.startswith("{")}
    return done, pids


def test_one_command_runs_in_the_warm_process_with_its_output_and_exit_code_the_next_runs_alone(tmp_path):
    good, bad = tmp_path / "good", tmp_path / "bad"
    tiny_dbt_project(good, "select 42 as answer")
    tiny_dbt_project(bad, "select * from a_table_that_is_not_there")
    with warm_dbt_process() as server:
        failed, pids = _run(bad)
        assert failed.returncode == 1 and "a_table_that_is_not_there" in failed.stdout
        assert pids == {server.pid}  # dbt ran in the warm process, writing into the command's output
        assert server.wait(timeout=30) == 1  # and it ended with its one command
        done, pids = _run(good)  # the next command: no warm process left, dbt runs in its own
        assert done.returncode == 0 and "Completed successfully" in done.stdout
        assert server.pid not in pids and len(pids) == 1
    with warm_dbt_process() as server:
        done, pids = _run(good)
        assert done.returncode == 0 and pids == {server.pid}
    assert not (good / "tiny.duckdb.wal").exists()  # closed before the command answered
    with duckdb.connect(str(good / "tiny.duckdb"), read_only=True) as con:
        assert con.execute("select answer from main.answer").fetchall() == [(42,)]


def test_a_warm_process_that_died_leaves_the_command_to_run_dbt_itself(tmp_path):
    good = tmp_path / "good"
    tiny_dbt_project(good, "select 42 as answer")
    with warm_dbt_process() as server:
        server.kill()  # out of memory, say, before the night's dbt
        server.wait()
        done, pids = _run(good)
    assert done.returncode == 0 and "Completed successfully" in done.stdout
    assert len(pids) == 1 and server.pid not in pids


def test_an_unused_warm_process_ends_with_the_night_and_leaves_nothing():
    before = os.environ.get(SERVER_ENV)
    with warm_dbt_process() as server:
        socket_path = Path(os.environ[SERVER_ENV])
        assert server.poll() is None
    assert server.returncode == 0 and not socket_path.parent.exists()
    assert os.environ.get(SERVER_ENV) == before


def _paused_project(root: Path) -> Path:
    """A dbt project whose one model (Python, run by dbt-duckdb in dbt's process) waits until the test releases
    it: dbt is running for certain while the test acts, whatever the machine's load (issue #35)."""
    tiny_dbt_project(root, "select 1")
    (root / "models" / "answer.sql").unlink()
    (root / "models" / "answer.py").write_text(
        "import os\nimport time\n\n\ndef model(dbt, session):\n"
        "    release = os.environ['MIMAMORI_TEST_RELEASE']\n"
        "    open(release + '.reached', 'w').close()\n"
        "    while not os.path.exists(release):\n        time.sleep(0.01)\n"
        "    return session.sql('select 42 as answer')\n")
    return root / "release"


def _start_paused(root: Path, release: Path) -> subprocess.Popen:
    """The command, once dbt in the warm process is inside the paused model."""
    client = subprocess.Popen(_command(root), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              cwd=root, env={**os.environ, "MIMAMORI_TEST_RELEASE": str(release)})
    deadline = time.monotonic() + 120
    while not Path(f"{release}.reached").exists():
        assert time.monotonic() < deadline and client.poll() is None, client.communicate()
        time.sleep(0.01)
    return client


def _interrupt_then_release(client: subprocess.Popen, release: Path) -> str:
    """SIGINT to the command, as dagster-dbt cancels; the model let go once the command has passed it on."""
    client.send_signal(signal.SIGINT)
    err = ""
    for line in client.stderr:
        err += line
        if "SIGINT passed on to dbt" in line:
            break
    release.touch()
    return err


def test_a_command_killed_or_interrupted_stops_dbt_in_the_warm_process(tmp_path):
    paused = tmp_path / "paused"
    release = _paused_project(paused)
    with warm_dbt_process() as server:  # killed as dagster-dbt would kill it: dbt stops with it
        client = _start_paused(paused, release)
        client.kill()
        assert server.wait(timeout=20) == -signal.SIGKILL
    release.unlink(missing_ok=True)
    Path(f"{release}.reached").unlink()
    with warm_dbt_process() as server:  # interrupted as dagster-dbt cancels it: dbt is interrupted
        client = _start_paused(paused, release)
        _interrupt_then_release(client, release)
        assert client.wait(timeout=120) == server.wait(timeout=20) == 2  # dbt's code for an interrupted run


def test_an_interrupt_reaches_dbt_when_the_night_inherited_interrupts_ignored(tmp_path):
    """A night started in the background of a script (`make test &`, CI) inherits SIGINT ignored, and Python
    keeps it so: dbt's warm process ignored the forwarded interrupt and the cancelled command exited 0
    (issue #35). Each mimamori-dbt process now makes SIGINT raise, whatever it inherited."""
    paused = tmp_path / "paused"
    release = _paused_project(paused)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # what `cmd &` in a non-interactive shell does
    try:
        with warm_dbt_process() as server:
            client = _start_paused(paused, release)
            err = _interrupt_then_release(client, release)
            assert client.wait(timeout=120) == server.wait(timeout=20) == 2
            assert "too late" not in err + client.stderr.read()
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupted_at(moment: str, tmp_path: Path) -> tuple[subprocess.Popen, subprocess.Popen, str]:
    """A command paused at ``moment`` (a failpoint), interrupted there as dagster-dbt cancels it, then let go
    once the interrupt was passed on (or the client is gone): each step waits on an event, not on time."""
    good = tmp_path / "good"
    tiny_dbt_project(good, "select 42 as answer")
    release = tmp_path / "release"
    with warm_dbt_process() as server:  # (its socket in os.environ from here)
        env = {**os.environ, "MIMAMORI_FAILPOINT": f"pause:{moment}", "MIMAMORI_FAILPOINT_RELEASE": str(release)}
        client = subprocess.Popen(_command(good), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  cwd=good, env=env)
        reached = Path(f"{release}.reached")
        deadline = time.monotonic() + 120
        while not reached.exists():
            assert time.monotonic() < deadline and client.poll() is None, client.communicate()
            time.sleep(0.01)
        client.send_signal(signal.SIGINT)
        err = ""
        if moment != "dbt_client_connected":  # the client passes it on to the warm process, and says so
            for line in client.stderr:
                err += line
                if "SIGINT passed on to dbt" in line:
                    break
        release.touch()
        _, rest = client.communicate(timeout=120)
        server.wait(timeout=60)
    return client, server, err + rest


def test_an_interrupt_before_the_command_is_handed_over_runs_no_dbt(tmp_path):
    client, server, _ = _interrupted_at("dbt_client_connected", tmp_path)
    assert client.returncode == -signal.SIGINT  # (Python ends by SIGINT on an unhandled KeyboardInterrupt)
    assert server.returncode != 0 and not (tmp_path / "good" / "tiny.duckdb").exists()


def test_an_interrupt_after_the_hand_over_but_before_dbt_starts_cancels_it(tmp_path):
    client, server, _ = _interrupted_at("dbt_before_run", tmp_path)
    assert client.returncode == server.returncode == 2
    assert not (tmp_path / "good" / "tiny.duckdb").exists()  # dbt never ran


def test_an_interrupt_after_dbt_ended_is_reported_as_too_late(tmp_path):
    client, server, err = _interrupted_at("dbt_after_run", tmp_path)
    assert client.returncode == server.returncode == 0
    assert "interrupted too late: dbt had already finished (exit 0)" in err
    with duckdb.connect(str(tmp_path / "good" / "tiny.duckdb"), read_only=True) as con:
        assert con.execute("select answer from main.answer").fetchall() == [(42,)]


def test_no_place_for_the_socket_means_no_warm_process_not_a_failed_night(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "not-there"))
    with warm_dbt_process() as server:
        assert server is None and SERVER_ENV not in os.environ


def test_a_killed_nights_socket_folder_is_removed_by_the_next_night(tmp_path, monkeypatch):
    import tempfile

    from pipelines.linkage.dbt_command import FOLDER_PREFIX

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f"{FOLDER_PREFIX}{dead.stdout.strip()}-abc"  # a night killed before its cleanup
    stale.mkdir()
    (stale / "socket").touch()
    alive = tmp_path / f"{FOLDER_PREFIX}{os.getppid()}-def"  # a night still running
    alive.mkdir()
    with warm_dbt_process() as server:
        assert server is not None and not stale.exists() and alive.exists()
    assert [p.name for p in tmp_path.iterdir()] == [alive.name]
