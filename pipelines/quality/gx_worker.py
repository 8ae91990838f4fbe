"""Great Expectations in a process of its own, imported while the night waits on dbt.

Importing GE takes about 2.5 s of one core (pydantic models by the hundred, scipy), and the nightly report
used to pay it after dbt, the analysts' marts and the lists, with nothing else to do. The dbt step starts
this worker instead: dbt's own process does the night's work then, and the worker imports GE at the lowest
priority (nice 19), on what the other core has to spare. By the report, the suites are ready.

A process, not a thread: GE imports itself in circles, and a thread importing it beside Dagster's lazy
imports failed a night (README, "Performance"). The worker holds no store: the report sends it small frames of
measures (``pipelines.quality.expectations``) and gets back plain results. It ends when its stdin closes, so a night
that is killed takes its worker with it.

Protocol: pickled requests on stdin, pickled replies on the worker's own copy of stdout (fd 1 itself is
pointed at stderr, so nothing GE prints can corrupt a reply); stderr goes to worker.log in the GE folder
(the last run's; named in any error).
"""

from __future__ import annotations

import os
import pickle
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipelines.core.process import collect_cycles_less_often, exit_without_teardown


@dataclass
class SuiteRun:
    """One suite over one small frame: expectations as (GE class name, keyword arguments)."""

    name: str
    frame: pd.DataFrame
    expectations: list[tuple[str, dict]]


@dataclass
class Validated:
    results: dict[str, list[dict]]  # suite name → per expectation: success, type, column, observed_value, unexpected
    docs: Path  # the Data Docs index
    ready_at: float  # when the worker had GE imported and the context open (time.time())


class WorkerFailed(RuntimeError):
    pass


class SuitesWorker:
    """The worker process for one GE project (HOME/reports/great_expectations)."""

    def __init__(self, root: Path, log: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.log = Path(log)
        self._stderr = open(self.log, "wb")
        self.import_wait: float | None = None  # how long the last request waited for GE's import
        self._sent, self._pending = 0.0, False
        self.process = subprocess.Popen([sys.executable, "-m", "pipelines.quality.gx_worker", str(self.root)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def validate(self, runs: list[SuiteRun]) -> Validated:
        """Every suite run, then tonight's Data Docs; a worker that fails says why, with its log."""
        self.send(runs)
        return self.receive()

    def send(self, runs: list[SuiteRun]) -> None:
        """The request, without waiting for its answer (``receive``): the caller works meanwhile."""
        if self._pending:  # an answer nobody read (its caller failed before): not to be taken for this one's
            self.receive()
        self._sent, self._pending = time.time(), True
        try:
            pickle.dump(runs, self.process.stdin)
            self.process.stdin.flush()
        except OSError as e:
            raise self._failed(f"no answer ({type(e).__name__})") from None

    def receive(self, timeout: float | None = None) -> Validated:
        """The answer to the request sent last; a worker with no answer within ``timeout`` seconds (hung) is
        killed and named, so that a night never waits on it for ever."""
        self._pending = False
        if timeout is not None and not select.select([self.process.stdout], [], [], timeout)[0]:
            self.process.kill()
            self.process.wait()
            raise self._failed(f"no answer within {timeout:g} s (killed)")
        try:
            reply = pickle.load(self.process.stdout)
        except (OSError, EOFError, pickle.UnpicklingError) as e:
            try:  # a worker whose answer broke off is ending: wait for its exit code (and for ``alive``)
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            raise self._failed(f"no answer ({type(e).__name__})") from None
        if isinstance(reply, BaseException):
            raise self._failed(str(reply)) from reply
        self.import_wait = max(0.0, reply.ready_at - self._sent)
        return reply

    def close(self) -> None:
        """Its stdin closed, the worker ends; waited for briefly, then killed."""
        if self.process.stdin and not self.process.stdin.closed:
            try:
                self.process.stdin.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._stderr.close()

    def _failed(self, what: str) -> WorkerFailed:
        self.process.poll()
        self._stderr.flush()
        log = self.log.read_text(errors="replace").strip().splitlines()
        code = self.process.returncode
        return WorkerFailed(f"the Great Expectations worker (pid {self.process.pid}"
                            f"{'' if code is None else f', exit {code}'}) failed: {what}. "
                            f"Its last lines: {' | '.join(log[-5:]) or '(none)'} — full log {self.log}")


def serve(root: Path) -> None:
    """The worker's loop: import GE, open the project, answer requests until stdin closes."""
    os.nice(19)
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever GE prints goes to the log, never into a reply
    requests = sys.stdin.buffer
    from pipelines.quality.gx_context import Suites  # Great Expectations: imported by the worker only

    suites = Suites(root)
    ready_at = time.time()
    while True:
        try:
            runs = pickle.load(requests)
        except EOFError:
            return
        try:
            reply = Validated(_run(suites, runs), suites.build_docs(), ready_at)
        except Exception as e:  # told to the night, which fails the report with it
            import traceback

            traceback.print_exc()
            reply = WorkerFailed(f"{type(e).__name__}: {e}")
        pickle.dump(reply, replies)
        replies.flush()


def _run(suites, runs: list[SuiteRun]) -> dict[str, list[dict]]:
    import great_expectations.expectations as gxe

    out = {}
    for run in runs:
        results = suites.run(run.name, run.frame, [getattr(gxe, kind)(**kwargs) for kind, kwargs in run.expectations])
        out[run.name] = [{"success": bool(r.success), "type": r.expectation_config.type,
                          "column": r.expectation_config.kwargs.get("column"),
                          "observed_value": (r.result or {}).get("observed_value"),
                          "unexpected": (r.result or {}).get("partial_unexpected_list")} for r in results]
    return out


if __name__ == "__main__":
    collect_cycles_less_often()
    from pipelines.quality import gx_worker  # its classes pickled under their module's name, not __main__'s

    gx_worker.serve(Path(sys.argv[1]))
    exit_without_teardown(0)  # the run waits for this exit: not for GE's 0.8 s of freeing modules
