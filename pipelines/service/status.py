"""``mimamori status``: did the last night succeed, recently enough? For the municipality's monitoring: exit 0
when the last night of the home succeeded within 26 hours, else exit 1 with one sentence — which night, what
failed, where its log is. Read from the home's Dagster instance (SQLite or PostgreSQL), which holds every
run whoever started it (the command line, the schedule, the sensor, the UI)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from pipelines.core.clock import TOKYO
from pipelines.core.home import Home
from pipelines.core.resources import AS_OF_TAG

FRESH_HOURS = 26  # a nightly schedule, with two hours' grace for a long night


@dataclass
class Status:
    ok: bool
    sentence: str
    state: str  # succeeded, failed, stale, missing
    run_id: str | None = None
    as_of: str | None = None
    finished_at: str | None = None
    hours_ago: float | None = None
    failed_step: str | None = None
    log: str | None = None
    running: str | None = None  # a night running now, by its run id

    def as_dict(self) -> dict:
        return asdict(self)


def _local(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, TOKYO).strftime("%Y-%m-%d %H:%M JST")


def night_status(root: Path, now: datetime | None = None) -> Status:
    home = Home(root)
    if not (home.dagster / "dagster.yaml").exists():
        return Status(False, f"No night has run on {home.root}: it has no Dagster instance (.dagster/dagster.yaml). "
                             "Run `mimamori nightly` or switch the schedule on.", "missing")
    import dagster as dg

    now = now or datetime.now(timezone.utc)
    with dg.DagsterInstance.from_config(str(home.dagster)) as instance:
        records = instance.get_run_records(filters=dg.RunsFilter(job_name="nightly"), limit=20)
        running = next((r.dagster_run.run_id for r in records if not r.dagster_run.is_finished), None)
        last = next((r for r in records if r.dagster_run.is_finished), None)
        if last is None:
            return Status(False, f"No night has finished on {home.root}" + (f" (one is running: run {running})."
                          if running else "."), "missing", running=running)
        run = last.dagster_run
        as_of, end = run.tags.get(AS_OF_TAG, "?"), last.end_time or last.create_timestamp.timestamp()
        hours = round((now.timestamp() - end) / 3600, 1)
        logs = sorted(home.logs.glob(f"*_{run.run_id}.log"))
        log = str(logs[0]) if logs else f"the Dagster UI, run {run.run_id}"
        common = dict(run_id=run.run_id, as_of=as_of, finished_at=_local(end), hours_ago=hours, log=log,
                      running=running)
        if run.status != dg.DagsterRunStatus.SUCCESS:
            step, problem = _first_failure(instance, run.run_id)
            what = f"at step {step}: {problem}" if step else f"({problem})"
            verb = "was cancelled" if run.status == dg.DagsterRunStatus.CANCELED else "failed"
            return Status(False, f"The night of {as_of} {verb} {what}; finished "
                                 f"{_local(end)}. Its log: {log}", "failed", failed_step=step, **common)
    if hours > FRESH_HOURS:
        return Status(False, f"The last night, of {as_of}, succeeded but finished {hours:.0f} hours ago "
                             f"({_local(end)}), more than {FRESH_HOURS}: no night has finished since"
                             + (f" (run {running} is running now)" if running else "") + f". Its log: {log}",
                      "stale", **common)
    return Status(True, f"The night of {as_of} succeeded, finished {_local(end)} ({hours:.1f} hours ago). "
                        f"Its log: {log}", "succeeded", **common)


def _first_failure(instance, run_id: str) -> tuple[str | None, str]:
    """The first step that failed and the first line of its error; else the run's own failure message."""
    import dagster as dg

    for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records:
        event = record.event_log_entry.dagster_event
        error = event.step_failure_data.error
        message = (error.message if error else event.message or "").strip().splitlines()
        # the sentence, without the exception's class (dagster._core.definitions.events.Failure: …)
        first = re.sub(r"^[\w.]+(Error|Failure|Exception)\w*: ", "", message[0]) if message else "failed"
        return event.step_key, first[:300]
    for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records:
        message = (record.event_log_entry.dagster_event.message or "").strip().splitlines()
        return None, (message[0] if message else "failed")[:300]
    return None, "no step failed: the run was stopped"
