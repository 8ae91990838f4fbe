"""Failpoints for crash tests: places where a test can kill the whole night as a power cut or an
operator's ``kill -9`` would, to prove that the next night recovers (issue: nights that never half-run).

Set ``MIMAMORI_FAILPOINT=<name>`` and the process kills its own process group with SIGKILL when it
reaches that point (dbt's subprocess included); ``MIMAMORI_FAILPOINT=hang:<name>`` makes it hang there for
ever instead, as a night stuck on a lost disk or a lock would (for the night's maximum run time). Unset, a
failpoint costs one dictionary lookup. ``MIMAMORI_FAILPOINT=pause:<name>`` stops there until the file named
by ``MIMAMORI_FAILPOINT_RELEASE`` exists, having created ``<that file>.reached``: a test acts at that exact
moment (an interrupt sent there, say), then lets the process go on — no sleep, no race with the machine's load.
"""

from __future__ import annotations

import os
import signal
import time

ENV = "MIMAMORI_FAILPOINT"
RELEASE_ENV = "MIMAMORI_FAILPOINT_RELEASE"
POINTS = {
    "ingest_load": "inside the transaction that loads an attendance file, before it commits",
    "ingest_batch": "after a file's third batch is staged, the next two being validated in threads",
    "dbt": "while dbt is running models (after the first models finished)",
    "export_swap": "between moving the previous exports aside and moving tonight's in",
    "analysis_marts": "after the first analysts' table was written, before the others",
}


def failpoint(name: str) -> None:
    """Kill this process and its children here, if a test asked for it."""
    wanted = os.environ.get(ENV)
    if wanted == name:
        os.killpg(os.getpgrp(), signal.SIGKILL)
    if wanted == f"hang:{name}":
        while True:
            time.sleep(3600)
    if wanted == f"pause:{name}":
        release = os.environ[RELEASE_ENV]
        open(f"{release}.reached", "w").close()
        while not os.path.exists(release):
            time.sleep(0.01)
