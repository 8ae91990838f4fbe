"""What every mimamori process (the nightly, dbt's warm process, the Great Expectations worker) sets at its start
and does at its end: telemetry off, the cycle collector run less often, an exit without the teardown."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

# No telemetry from any part of the stack (governance: nothing about the municipality leaves the machine).
TELEMETRY_OFF = {"DAGSTER_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                 "GX_ANALYTICS_ENABLED": "false"}


def without_pandas_on_spark() -> None:
    """pandera registers its pandas-on-Spark types whenever pyspark is installed (it is, for the Spark path
    and its tests), importing ``pyspark.pandas``: 0.3 s of every night's start, for frames a night never
    has. Marked absent in this process (``import pyspark.pandas`` raises ImportError, which pandera takes
    as not installed); pyspark itself stays importable."""
    sys.modules.setdefault("pyspark.pandas", None)


# Python's default (700, 10, 10) starts a collection every 700 net allocations, in a night that allocates
# millions of objects (imports, Dagster's and dbt's events, pandera's checks) and leaves few cycles: the
# collector was ≈ 4 % of a fukuoka night's CPU samples (perf), ≈ 1.3 s of its wall time. Reference counting
# still frees every object that is not in a cycle at once; cycles wait a little longer.
GC_THRESHOLDS = (100_000, 50, 1_000)


def collect_cycles_less_often() -> None:
    """The cycle collector of this process (the nightly's, dbt's, GE's worker's) runs ~100 times less often."""
    import gc

    gc.set_threshold(*GC_THRESHOLDS)


def exit_without_teardown(code: int) -> None:
    """Exit once everything is written, without tearing down every module and object.

    A night imports Dagster, dagster-dbt, dbt, pandera and Great Expectations (about 5,000 modules); the
    interpreter then spends 1.4 s freeing them one by one at exit, after the night is done (a third of
    kaga's start-up and exit). The exit handlers still run (logging's flush among them) and threads still
    finish first; only the freeing is skipped, which the operating system does at once. Every store is
    closed by then: the commands close their DuckDB connections and the Dagster instance themselves.
    """
    import atexit
    import threading

    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0 if code is None else int(code))


def descendants(pid: int | None = None) -> list[int]:
    """The processes this one started, and theirs (dbt's warm process, Great Expectations' worker, dbt's
    threads' children), read from /proc: a night that stops itself stops them too."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid or os.getpid()]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def kill_descendants() -> None:
    for child in descendants():
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass
