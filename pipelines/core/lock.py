"""One night at a time per home: an exclusive lock on ``HOME/nightly.lock``.

The lock is an ``flock`` on the file, so the kernel releases it when its holder dies (a crash or a
``kill -9`` never leaves a stale lock behind). While held, the file names the holder — pid, host, start,
as-of date and run — so that a second night can say which night is running.

Taken by ``mimamori nightly`` before the run starts (with ``--wait``), and by the ``night_lock`` resource
at the start of any run of the stores' assets, whoever launched it (schedule, sensor, the UI); a run the
CLI started already holds it in this process.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from pipelines.core.home import Home

EX_TEMPFAIL = 75  # sysexits.h: try again later


def lock_path(home: Path) -> Path:
    return Home(home).lock


class NightRunning(Exception):
    """Another night holds the home's lock."""

    def __init__(self, holder: dict, waited: float):
        self.holder = holder
        since = holder.get("started", "?")
        super().__init__(
            f"another night is running on this home: as of {holder.get('as_of', '?')}, pid {holder.get('pid', '?')} "
            f"on {holder.get('host', '?')}, started {since}" + (f" (run {holder['run_id']})" if holder.get("run_id") else "")
            + (f"; waited {waited:.0f} s" if waited else "") + ". Run it again when that night has finished, "
            "or give --wait SECONDS.")


@dataclass
class _Held:
    fd: int
    depth: int


# Locks this process holds, by path: the CLI takes the lock, then the run it starts in this process takes
# it again through the resource. (flock is per open file, so a second open would wait on ourselves.)
_held: dict[Path, _Held] = {}


def holder(home: Path) -> dict:
    """Who holds (or last held) the lock, as written in the file."""
    try:
        return json.loads(lock_path(home).read_text() or "{}")
    except (OSError, json.JSONDecodeError):
        return {}


@contextmanager
def night_lock(home: Path, as_of: str = "", run_id: str = "", wait: float = 0.0) -> Iterator[None]:
    """Hold the home's lock for the block; wait up to ``wait`` seconds for it, else raise NightRunning."""
    path = lock_path(home).resolve()
    if path in _held:
        _held[path].depth += 1
        try:
            yield
        finally:
            _held[path].depth -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    started = time.monotonic()
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() - started >= wait:
                os.close(fd)
                raise NightRunning(holder(home), time.monotonic() - started) from None
            time.sleep(min(1.0, max(0.05, wait / 20)))
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "as_of": as_of, "run_id": run_id,
                              "started": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")},
                             ensure_ascii=False).encode(), 0)
    _held[path] = _Held(fd, 1)
    try:
        yield
    finally:
        del _held[path]
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
