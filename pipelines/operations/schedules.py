"""Operations: the nightly schedule, the landing-folder sensor, and freshness checks per department."""

import hashlib
import json
from datetime import timedelta

import dagster as dg

from pipelines.core import config
from pipelines.core.clock import TOKYO, today_in_tokyo
from pipelines.core.resources import AS_OF_TAG, MimamoriHome, run_as_of
from pipelines.ingest.extracts import ExtractFile, landing_files
from pipelines.operations.jobs import nightly_job
from pipelines.reviews.returns import return_files
from schemas.contract import EXTRACTS


@dg.schedule(job=nightly_job, cron_schedule="0 2 * * *", execution_timezone="Asia/Tokyo",
             default_status=dg.DefaultScheduleStatus.STOPPED,
             description="Every night at 02:00 Asia/Tokyo, for the day before (the departments' evening extracts).")
def nightly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    as_of = context.scheduled_execution_time.astimezone(TOKYO).date() - timedelta(days=1)
    return dg.RunRequest(run_key=f"nightly-{as_of.isoformat()}", tags={AS_OF_TAG: as_of.isoformat()})


def _fingerprint(path) -> str:
    """Name, size and modification time to the nanosecond: cheap to take every minute (the ingest hashes
    the content), and a file replaced by one of the same size within the same second is still new."""
    st = path.stat()
    return f"{path.name}:{st.st_size}:{st.st_mtime_ns}"


def _in_cursor(fingerprint: str, seen: set[str]) -> bool:
    """In the cursor, or in a cursor written before fingerprints had nanoseconds (whole seconds then):
    an upgrade must not start a night again for every file already there."""
    head, nanoseconds = fingerprint.rsplit(":", 1)
    return fingerprint in seen or f"{head}:{int(nanoseconds) // 10**9}" in seen


@dg.sensor(job=nightly_job, minimum_interval_seconds=config.operations()["sensor_interval_seconds"],
           default_status=dg.DefaultSensorStatus.STOPPED,
           description="Starts the nightly when a new extract arrives in the landing folder, or a returned list "
                       "in landing/returns/. The run key names the new files, so one file never starts two runs.")
def landing_sensor(context: dg.SensorEvaluationContext, home: MimamoriHome) -> dg.SensorResult:
    seen = set(json.loads(context.cursor)) if context.cursor else set()
    extracts = [f for group in landing_files(home.landing_dir, _today()).values() for f in group]
    current = {_fingerprint(f.path): f for f in [*extracts, *return_files(home.landing_dir)]}
    new = sorted(k for k in current if not _in_cursor(k, seen))
    if not new:
        return dg.SensorResult(skip_reason="no new extract or returned list in the landing folder",
                               cursor=context.cursor)
    # new extracts: the night of the newest; only returned lists: the latest night again, now with the reviews
    dated = [current[k].extracted_on for k in new if isinstance(current[k], ExtractFile)] or \
        [f.extracted_on for f in extracts] or [_today()]
    as_of = max(dated)
    key = hashlib.sha256("\n".join(new).encode()).hexdigest()[:16]
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"landing-{key}", tags={AS_OF_TAG: as_of.isoformat(),
                                                                     "mimamori/new_files": ", ".join(
                                                                         current[k].name for k in new)[:1000]})],
        cursor=json.dumps(sorted(seen | set(new))))


def _today():
    return today_in_tokyo()


def build_freshness_check(extract: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=dg.AssetKey(["raw", extract]), name="extract_fresh", blocking=False,
                    description=f"The newest {extract} extract dated ≤ T is at most "
                                f"{config.operations()['freshness_max_age_days'][extract]} days old.")
    def _fresh(context: dg.AssetCheckExecutionContext, home: MimamoriHome) -> dg.AssetCheckResult:
        limit = config.operations()["freshness_max_age_days"][extract]
        as_of = run_as_of(context)
        files = landing_files(home.landing_dir, as_of)[extract]
        newest = files[-1].extracted_on if files else None
        age = (as_of - newest).days if newest else None
        return dg.AssetCheckResult(
            passed=age is not None and age <= limit, severity=dg.AssetCheckSeverity.WARN,
            description=None if age is not None and age <= limit else
            (f"{extract}: newest extract is {age} days old (limit {limit})" if newest else
             f"{extract}: no extract dated ≤ {as_of}"),
            metadata={"newest_extract": str(newest), "age_days": age if age is not None else -1,
                      "limit_days": limit})

    return _fresh


freshness_checks = [build_freshness_check(name) for name in EXTRACTS]
