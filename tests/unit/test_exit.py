"""The `mimamori` command exits without the interpreter's teardown, but only once everything is written."""

import subprocess
import sys
import textwrap


def test_exit_without_teardown_runs_exit_handlers_waits_for_threads_and_keeps_the_code(tmp_path):
    script = textwrap.dedent(f"""
        import atexit, logging, sys, threading, time
        from pipelines.cli import exit_without_teardown

        logging.basicConfig(filename={str(tmp_path / "log.txt")!r}, level=logging.INFO)
        logging.info("logged before the exit")  # flushed by logging's exit handler
        atexit.register(lambda: open({str(tmp_path / "atexit.txt")!r}, "w").write("ran"))

        def late():
            time.sleep(0.5)
            open({str(tmp_path / "thread.txt")!r}, "w").write("finished")

        threading.Thread(target=late).start()
        sys.stdout.write("buffered, no newline")
        exit_without_teardown(3)
        print("never reached")
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 3, run.stderr
    assert run.stdout == "buffered, no newline"
    assert (tmp_path / "atexit.txt").read_text() == "ran"
    assert (tmp_path / "thread.txt").read_text() == "finished"
    assert "logged before the exit" in (tmp_path / "log.txt").read_text()


def test_the_console_script_is_the_exit_without_teardown():
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "mimamori"]
    assert script.value == "pipelines.cli:run"
