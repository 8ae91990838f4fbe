"""What `mimamori nightly` shows in a terminal: one line per step as it ends (its seconds and rows), a
status line on long steps, then the run summary. Dagster's and dbt's own logs (thousands of lines a
night) go to ``HOME/logs/<as-of>_<run id>.log``; ``--verbose`` streams them to the terminal too.

The step lines come from the run's events in the Dagster instance, read by a thread while the run goes
on; the logs are taken at the file descriptors, so that dbt's and DuckDB's output is kept as well.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterator

import dagster as dg

STATUS_EVERY = 30.0  # seconds between "still running" lines when the terminal cannot redraw a line


@contextmanager
def captured_output(log_path: Path, echo: IO[str] | None) -> Iterator[None]:
    """Everything written to stdout and stderr, by Python or by any library or child process, goes to
    ``log_path`` (and to ``echo`` too, for --verbose) until the block ends."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    read_end, write_end = os.pipe()
    saved = [os.dup(1), os.dup(2)]
    log = open(log_path, "ab")

    def pump() -> None:
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                log.write(chunk)
                if echo is not None:
                    echo.write(chunk.decode("utf-8", "replace"))
                    echo.flush()

    thread = threading.Thread(target=pump, name="mimamori-log", daemon=True)
    thread.start()
    os.dup2(write_end, 1)
    os.dup2(write_end, 2)
    os.close(write_end)
    # Python's own streams too, where a host (pytest, a notebook) had pointed them elsewhere than fd 1 and 2
    python_streams = sys.stdout, sys.stderr
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False, buffering=1)
    sys.stderr = open(2, "w", encoding="utf-8", closefd=False, buffering=1)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        sys.stdout, sys.stderr = python_streams
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        thread.join(timeout=10)  # a child that outlives the run must not hold the night open
        log.close()


def console_stream() -> IO[str]:
    """The terminal, as a stream of its own: still the terminal while stdout goes to the log."""
    return os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)


# ------------------------------------------------------------------------------------------ step lines


def step_label(step_key: str) -> str:
    if step_key == "mimamori_dbt_models":
        return "dbt: linkage and signals"
    if step_key == "analysis_marts":
        return "analysis marts"
    return step_key.replace("__", "/")


@dataclass
class StepState:
    started: float | None = None
    finished: bool = False
    materialized: list[dict] = field(default_factory=list)
    checks: int = 0
    checks_failed: int = 0
    last_message: str = ""


def _number(value) -> int | None:
    raw = getattr(value, "value", value)
    return raw if isinstance(raw, int) else None


def step_detail(step_key: str, state: StepState) -> str:
    """Rows, models or children of a finished step, from its materialisations' metadata."""
    md = state.materialized[0] if state.materialized else {}
    if step_key == "rights__requests":
        files = getattr(md.get("files_read"), "value", None) or []
        return f"{sum(f['rows_loaded'] for f in files):,} requests from {len(files)} file(s)" if files else \
            "no new request"
    if step_key == "rights__applied":
        persons = getattr(md.get("persons_set_aside"), "value", None) or {}
        applied = getattr(md.get("corrections_applied"), "value", None) or []
        reflected = getattr(md.get("corrections_reflected"), "value", None) or []
        return (f"{sum(persons.values()):,} people set aside, {len(applied)} corrections applied, "
                f"{len(reflected)} reflected")
    if step_key == "raw__reviews":
        files = getattr(md.get("files_read"), "value", None) or []
        return (f"{_number(md.get('reviews_loaded')) or 0:,} reviews from {len(files)} returned list(s)"
                if files else "no returned list to read")
    if step_key.startswith("raw__"):
        loaded = _number(md.get("rows_loaded"))
        files = getattr(md.get("files_read"), "value", None) or []
        quarantined = _number(md.get("rows_quarantined")) or 0
        text = f"{loaded:,} rows loaded" if loaded else "nothing new to load"
        if len(files) > 1:
            text += f" from {len(files)} files"
        if quarantined:
            text += f", {quarantined:,} quarantined"
        rejected = getattr(md.get("rejected_files"), "value", None) or []
        if rejected:
            text += f", {len(rejected)} file rejected"
        return text
    if step_key == "mimamori_dbt_models":
        return f"{len(state.materialized)} models, {state.checks} tests" + (
            f" ({state.checks_failed} failed)" if state.checks_failed else "")
    if step_key == "exports__caseworker_lists":
        offices = getattr(md.get("rows_by_office"), "value", None) or {}
        return f"{_number(md.get('children_listed')) or 0:,} children listed for {len(offices)} office(s)"
    if step_key == "analysis_marts":
        return f"{_number(md.get('rows')) or 0:,} children"
    if step_key == "quality__nightly_report":
        return f"{state.checks} checks" + (f", {state.checks_failed} warned" if state.checks_failed else ", all passed")
    if step_key == "governance__retention_purge":
        return f"{_number(md.get('persons_purged')) or 0:,} persons purged"
    if step_key == "matching__jisou_links":
        if md.get("linked") is None:
            return f"{_number(md.get('records')) or 0:,} 児童相談所 records, none linked"
        return (f"{_number(md.get('records')) or 0:,} 児童相談所 records: {_number(md.get('linked')) or 0:,} linked, "
                f"{_number(md.get('to_review')) or 0:,} to review")
    return ""


class StepLines(threading.Thread):
    """Reads the run's events from the instance while it runs and prints a line as each step ends."""

    EVENTS = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE,
              dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_CHECK_EVALUATION}

    def __init__(self, instance: dg.DagsterInstance, run_id: str, out: IO[str]):
        super().__init__(name="mimamori-steps", daemon=True)
        self.instance, self.run_id, self.out = instance, run_id, out
        self.tty = out.isatty()
        self.steps: dict[str, StepState] = {}
        self.cursor: str | None = None
        self.done = threading.Event()
        self.last_status = time.monotonic()
        self.status_shown = False

    def run(self) -> None:
        while not self.done.wait(0.5):
            self.poll()
            self.status()
        self.poll()

    def poll(self) -> None:
        try:
            records = self.instance.get_records_for_run(self.run_id, cursor=self.cursor)
        except Exception:  # the run's event log is being written: read it on the next tick
            return
        self.cursor = records.cursor
        for record in records.records:
            self.handle(record.event_log_entry)

    def handle(self, entry) -> None:
        step = entry.step_key
        if not step or step.endswith("_extract_fresh"):
            return
        state = self.steps.setdefault(step, StepState())
        event = entry.dagster_event
        if event is None:
            state.last_message = entry.user_message.splitlines()[0][:80] if entry.user_message else ""
            return
        kind = event.event_type
        if kind == dg.DagsterEventType.STEP_START:
            state.started = entry.timestamp
        elif kind == dg.DagsterEventType.ASSET_MATERIALIZATION:
            state.materialized.append(dict(event.event_specific_data.materialization.metadata))
            state.last_message = f"{len(state.materialized)} done"
        elif kind == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            state.checks += 1
            state.checks_failed += not event.event_specific_data.passed
        elif kind in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            state.finished = True
            seconds = entry.timestamp - (state.started or entry.timestamp)
            ok = kind == dg.DagsterEventType.STEP_SUCCESS
            detail = step_detail(step, state) if ok else "FAILED (below)"
            self.line(f"  {seconds:6.1f} s  {step_label(step):<30} {detail}")

    def status(self) -> None:
        """On a long step, say what it is doing: redrawn in place on a terminal, every 30 s otherwise."""
        now = time.time()
        running = [(k, s) for k, s in self.steps.items() if s.started and not s.finished and now - s.started >= 5]
        if not running:
            return
        key, state = running[-1]
        text = f"  {now - state.started:6.0f} s  {step_label(key):<30} running" + (
            f": {state.last_message}" if state.last_message else "")
        if self.tty:
            self.out.write("\r" + text[:110].ljust(110))
            self.out.flush()
            self.status_shown = True
        elif time.monotonic() - self.last_status >= STATUS_EVERY:
            self.out.write(text + "\n")
            self.last_status = time.monotonic()

    def line(self, text: str) -> None:
        if self.status_shown:
            self.out.write("\r" + " " * 110 + "\r")
            self.status_shown = False
        self.out.write(text + "\n")
        self.out.flush()

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=10)
        if self.status_shown:
            self.out.write("\r" + " " * 110 + "\r")
            self.out.flush()


# ------------------------------------------------------------------------------------------ failures


def first_error(result: dg.ExecuteInProcessResult, dbt_target: Path) -> tuple[str, str] | None:
    """(step, the first real error in one sentence) of a failed run, or None.

    A step skipped because another failed is not an error of its own; a failed dbt build is told by
    its first failed node in run_results.json, not by the CLI's exit code.
    """
    for event in result.all_events:
        if event.event_type != dg.DagsterEventType.STEP_FAILURE:
            continue
        data = event.step_failure_data
        if data.user_failure_data and data.user_failure_data.description:
            return event.step_key, data.user_failure_data.description
        if event.step_key == "mimamori_dbt_models":
            message = _dbt_error(dbt_target / "run_results.json")
            if message:
                return event.step_key, message
        error = data.error
        while error and error.cause:  # Dagster wraps the real exception: say that one
            error = error.cause
        text = (error.message if error else "unknown error").strip()
        return event.step_key, text.splitlines()[0] if text else "unknown error"
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.RUN_FAILURE:
            return "run", event.message or "the run failed"
    return None


def _dbt_error(run_results: Path) -> str | None:
    try:
        results = json.loads(run_results.read_text())["results"]
    except (OSError, ValueError, KeyError):
        return None
    for r in results:
        if r.get("status") in ("error", "fail"):
            node = r.get("unique_id", "").split(".")[-1]
            message = " ".join((r.get("message") or "").split())
            return f"dbt {node}: {message}"
    return None
