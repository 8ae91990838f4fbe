"""The `mimamori` command exits without the interpreter's teardown, but only once everything is written."""

import subprocess
import sys
import textwrap

import pytest

from tests.helpers import tiny_dbt_project


def test_exit_without_teardown_runs_exit_handlers_waits_for_threads_and_keeps_the_code(tmp_path):
    script = textwrap.dedent(f"""
        import atexit, logging, sys, threading, time
        from pipelines.core.process import exit_without_teardown

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


def _mimamori_dbt(root):
    from pathlib import Path

    command = [str(Path(sys.executable).with_name("mimamori-dbt")), "build", "--project-dir", str(root),
               "--profiles-dir", str(root)]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=root)


@pytest.mark.slow
def test_mimamori_dbt_is_dbt_and_leaves_its_database_closed(tmp_path):
    """The nightly's dbt command: dbt's exit code, dbt's output, and its DuckDB database closed (checkpointed,
    no write-ahead log left behind) before the fast exit."""
    import duckdb

    good = tmp_path / "good"
    tiny_dbt_project(good, "select 42 as answer")
    run = _mimamori_dbt(good)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Completed successfully" in run.stdout
    assert not (good / "tiny.duckdb.wal").exists()
    with duckdb.connect(str(good / "tiny.duckdb"), read_only=True) as con:
        assert con.execute("select answer from main.answer").fetchall() == [(42,)]

    bad = tmp_path / "bad"
    tiny_dbt_project(bad, "select * from a_table_that_is_not_there")
    run = _mimamori_dbt(bad)
    assert run.returncode == 1
    assert "a_table_that_is_not_there" in run.stdout


def test_the_commands_collect_cycles_less_often():
    """The nightly's processes raise the cycle collector's thresholds (and only those processes)."""
    import gc

    from pipelines.core.process import GC_THRESHOLDS

    script = ("import gc, pipelines.cli as cli\n"
              "cli.main = lambda: print(gc.get_threshold()) or 0\n"
              "cli.run()\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(GC_THRESHOLDS)
    assert gc.get_threshold() != GC_THRESHOLDS  # importing the module changes nothing


def test_the_nightly_command_leaves_pandas_on_spark_out_of_pandera_and_pyspark_importable():
    script = ("import sys\n"
              "from pipelines.cli import without_pandas_on_spark\n"
              "without_pandas_on_spark()\n"
              "import pandera.polars, pyspark.sql\n"
              "from pandera.typing import pyspark as typing_pyspark\n"
              "print(sys.modules.get('pyspark.pandas'), typing_pyspark.PYSPARK_INSTALLED, 'pyspark.sql' in sys.modules)\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["None", "False", "True"]


def test_the_command_line_offers_the_presets_without_importing_the_generator():
    """Every ``mimamori`` command (the nightly's too) builds the same parser; the generator's numpy and
    faker are for ``generate`` alone."""
    from seeds.generator import PRESETS as generator_presets

    script = ("import sys\n"
              "import pipelines.cli as cli\n"
              "try:\n"
              "    cli.main(['generate', '--help'])\n"
              "except SystemExit:\n"
              "    pass\n"
              "print('seeds.generator' in sys.modules, 'faker' in sys.modules)\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "fukuoka" in run.stdout and "yokohama" in run.stdout  # the presets are offered
    assert run.stdout.split()[-2:] == ["False", "False"]
    assert list(generator_presets) == ["tiny", "kaga", "toda", "amagasaki", "fukuoka", "yokohama"]
