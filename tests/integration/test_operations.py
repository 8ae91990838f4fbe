"""Operations with Dagster's own testing tools: the 02:00 JST schedule, the landing sensor's run keys,
freshness checks; and a run that fails late leaves the previous night's exports as they were."""

import json
import os
import shutil
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import dagster as dg

from pipelines.core.resources import AS_OF_TAG, MimamoriHome, NightLock
from pipelines.nightly import run_nightly
from pipelines.operations.schedules import freshness_checks, landing_sensor, nightly_schedule
from tests.helpers import AS_OF


def test_schedule_ticks_at_two_in_tokyo_for_the_day_before():
    assert nightly_schedule.cron_schedule == "0 2 * * *"
    assert nightly_schedule.execution_timezone == "Asia/Tokyo"
    tick = datetime(2026, 12, 1, 2, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    with dg.build_schedule_context(scheduled_execution_time=tick) as context:
        request = nightly_schedule.evaluate_tick(context).run_requests[0]
    assert request.tags[AS_OF_TAG] == "2026-11-30"
    assert request.run_key == "nightly-2026-11-30"
    # 02:00 JST is 17:00 UTC the day before: the as-of date follows Tokyo, not UTC
    utc_tick = datetime(2026, 11, 30, 17, 0, tzinfo=timezone.utc)
    with dg.build_schedule_context(scheduled_execution_time=utc_tick) as context:
        assert nightly_schedule.evaluate_tick(context).run_requests[0].tags[AS_OF_TAG] == "2026-11-30"


def sensor_tick(landing, home, cursor=None):
    resources = {"home": MimamoriHome(home=str(home), landing=str(landing))}
    with dg.build_sensor_context(cursor=cursor, resources=resources) as context:
        return landing_sensor(context)


def test_sensor_starts_one_run_per_new_file_set_and_never_two_for_one_file(tmp_path, clean_municipality):
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(clean_municipality / "landing" / "jumin_20261129.csv", landing)
    first = sensor_tick(landing, tmp_path)
    assert len(first.run_requests) == 1
    assert first.run_requests[0].tags[AS_OF_TAG] == "2026-11-29"
    again = sensor_tick(landing, tmp_path, first.cursor)
    assert not again.run_requests  # the same file: no second run
    shutil.copy(clean_municipality / "landing" / "zei_20261130.csv", landing)
    shutil.copy(clean_municipality / "landing" / "kenshin_20261130.csv", landing)
    second = sensor_tick(landing, tmp_path, again.cursor)
    assert len(second.run_requests) == 1 and second.run_requests[0].tags[AS_OF_TAG] == "2026-11-30"
    assert "zei_20261130.csv" in second.run_requests[0].tags["mimamori/new_files"]
    assert second.run_requests[0].run_key != first.run_requests[0].run_key
    # a lost cursor still cannot start a second run: the run key is the same for the same files
    replay = sensor_tick(landing, tmp_path, first.cursor)
    assert replay.run_requests[0].run_key == second.run_requests[0].run_key
    assert json.loads(second.cursor) and sensor_tick(landing, tmp_path, second.cursor).run_requests == []


def test_sensor_sees_a_file_replaced_within_the_same_second_and_reads_an_old_cursor(tmp_path, clean_municipality):
    landing = tmp_path / "landing"
    landing.mkdir()
    path = landing / "jumin_20261130.csv"
    shutil.copy(clean_municipality / "landing" / path.name, path)
    second = 1_796_000_000 * 10**9
    os.utime(path, ns=(second, second + 100))
    first = sensor_tick(landing, tmp_path)
    # the department sends it again, corrected, same size, in the same second
    data = bytearray(path.read_bytes())
    data[-3:-2] = b"9" if data[-3:-2] != b"9" else b"8"
    path.write_bytes(bytes(data))
    os.utime(path, ns=(second, second + 900_000_000))
    again = sensor_tick(landing, tmp_path, first.cursor)
    assert len(again.run_requests) == 1 and again.run_requests[0].run_key != first.run_requests[0].run_key
    # a cursor of whole seconds (before the upgrade) still knows the file: no night started again
    legacy = json.dumps([f"{path.name}:{path.stat().st_size}:{second // 10**9}"])
    assert sensor_tick(landing, tmp_path, legacy).run_requests == []


def test_sensor_sees_returned_lists_and_runs_the_latest_night_again(tmp_path, clean_municipality):
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(clean_municipality / "landing" / "jumin_20261130.csv", landing)
    first = sensor_tick(landing, tmp_path)
    (landing / "returns").mkdir()
    (landing / "returns" / "見守りリスト_00_こども家庭センター_20261130.xlsx").write_bytes(b"PK")
    second = sensor_tick(landing, tmp_path, first.cursor)
    [request] = second.run_requests
    assert request.tags[AS_OF_TAG] == "2026-11-30"  # the latest night, read again with the reviews
    assert request.tags["mimamori/new_files"] == "見守りリスト_00_こども家庭センター_20261130.xlsx"
    assert sensor_tick(landing, tmp_path, second.cursor).run_requests == []


def test_freshness_checks_warn_on_old_extracts(clean_municipality, tmp_path):
    from pipelines.ingest.assets import extract_assets

    home = MimamoriHome(home=str(tmp_path / "home"), landing=str(clean_municipality / "landing"))
    jumin_fresh = next(c for c in freshness_checks if dg.AssetKey(["raw", "jumin"]) in
                       {k.asset_key for k in c.check_keys})
    jumin = next(a for a in extract_assets if a.key == dg.AssetKey(["raw", "jumin"]))
    for as_of, passed in [("2026-11-30", True), ("2026-12-05", False)]:
        result = dg.materialize([jumin, jumin_fresh], resources={"home": home, "night_lock": NightLock(home=home.home)},
                                tags={AS_OF_TAG: as_of},
                                instance=dg.DagsterInstance.ephemeral())
        evaluation = next(e.asset_check_evaluation_data for e in result.all_events
                          if e.event_type_value == "ASSET_CHECK_EVALUATION"
                          and e.asset_check_evaluation_data.check_name == "extract_fresh")
        assert evaluation.passed is passed, as_of
        if not passed:
            assert evaluation.metadata["age_days"].value == 5


def test_a_run_that_fails_late_leaves_the_previous_exports_untouched(nightly_home, tmp_path, monkeypatch):
    home = tmp_path / "home"
    shutil.copytree(nightly_home["home"], home, ignore=shutil.ignore_patterns(".dagster"))
    folder = home / "exports" / AS_OF.isoformat()
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert before

    import pipelines.lists.export as export

    def crash(*args, **kwargs):
        raise RuntimeError("injected failure while writing the caseworkers' files")

    monkeypatch.setattr(export, "write_xlsx", crash)  # after the first CSV of the night is written
    run = run_nightly(home, nightly_home["landing"], AS_OF, quiet=True)
    assert not run.result.success
    assert "exports__caseworker_lists" in run.summary["failed_steps"]
    after = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert after == before
    # nothing half-written beside the nights' folders
    assert sorted(p.name for p in (home / "exports").iterdir()) == sorted(
        p.name for p in (nightly_home["home"] / "exports").iterdir())
