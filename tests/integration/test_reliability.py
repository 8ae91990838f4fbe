"""Nights that never half-run: fallback to the last good file, a department without data, one night at a
time, and kills at the worst moments. Real nights of the tiny municipality, through the real CLI where a
process has to die or to wait."""

import shutil
import signal
import subprocess
import time
from pathlib import Path

import openpyxl
import pytest

from pipelines.core.audit import verify
from pipelines.ingest.streaming import BATCH_ENV
from pipelines.nightly import run_nightly
from tests.helpers import AS_OF, MIMAMORI, check_evaluations, nightly, restricted


def drop_column(path: Path, column: str) -> None:
    lines = path.read_bytes().decode("cp932").split("\r\n")
    index = lines[0].split(",").index(column)
    path.write_bytes("\r\n".join(",".join(f for i, f in enumerate(line.split(",")) if i != index)
                                 for line in lines).encode("cp932"))


def facts_sheet(home: Path) -> dict[str, str]:
    [xlsx] = (home / "exports" / AS_OF.isoformat()).glob("*.xlsx")
    rows = openpyxl.load_workbook(xlsx)["判定情報"].iter_rows(values_only=True)
    return {k: v for k, v in rows if k}


# ------------------------------------------------------------------------------ fallback and no data


@pytest.fixture(scope="module")
def unkind_night(clean_municipality, tmp_path_factory):
    """A first night on an empty home: tonight's tax file lacks a required column (yesterday's is good)
    and the health department sent nothing at all."""
    folder = tmp_path_factory.mktemp("unkind")
    landing = folder / "landing"
    shutil.copytree(clean_municipality / "landing", landing)
    drop_column(landing / "zei_20261130.csv", "課税区分")
    for path in landing.glob("kenshin_*.csv"):
        path.unlink()
    run = run_nightly(folder / "home", landing, AS_OF, quiet=True)
    return folder / "home", landing, run


def test_a_rejected_newest_file_falls_back_to_the_older_good_one_on_a_first_night(unkind_night):
    home, _, run = unkind_night
    assert run.result.success
    with restricted(home) as con:
        assert con.execute("select distinct _source_file from raw.zei").fetchall() == [("zei_20261129.csv",)]
        statuses = dict(con.execute("select file_name, status from raw.load_log where extract = 'zei'").fetchall())
        e4 = con.execute("select count(*) from marts.child_signals where signal_e4").fetchone()[0]
        listed = con.execute("select count(*) from marts.flagged_children").fetchone()[0]
    assert statuses == {"zei_20261130.csv": "rejected", "zei_20261129.csv": "loaded"}
    assert e4 > 0 and listed > 0  # the older tax data really serves tonight's signals
    checks = check_evaluations(run.result)
    assert not checks["raw/zei:file_accepted"].passed and not checks["raw/zei:data_current"].passed
    stale = {f["extract"]: f for f in run.summary["stale_sources"]}
    assert stale["zei"]["file_in_use"] == "zei_20261129.csv" and "必須列がありません: 課税区分" in stale["zei"]["rejected"]
    tax = facts_sheet(home)["個人住民税"]
    assert "zei_20261129.csv（2026-11-29）" in tax and "zei_20261130.csv は読み込めませんでした" in tax


def test_a_department_that_sent_nothing_is_not_judged_and_every_reader_is_told(unkind_night):
    home, landing, run = unkind_night
    with restricted(home) as con:
        assert con.execute("select count(*) from raw.kenshin").fetchone()[0] == 0
        fired = con.execute("select count(*) filter (signal_h1 or signal_h2 or signal_c3) from marts.child_signals"
                            ).fetchone()[0]
    assert fired == 0
    sentence = "健診データなし: 養育領域のうち C3 乳幼児健診未受診、健康領域は判定していません"
    assert facts_sheet(home)["判定していない項目"] == sentence + "。"
    from pipelines.quality.summary import render

    text = render(run.summary, home, landing)
    assert f"NO DATA kenshin (健診): no file; expected {landing / 'kenshin_YYYYMMDD.csv'}" in text and sentence in text
    report = (home / "reports" / AS_OF.isoformat() / "report.html").read_text(encoding="utf-8")
    assert sentence in report and "NOT JUDGED" in report


def test_a_required_department_without_data_stops_the_night_before_dbt_and_says_what_it_expected(
        clean_municipality, tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(clean_municipality / "landing", landing)
    for path in landing.glob("jumin_*.csv"):
        path.unlink()
    started = time.monotonic()
    run = nightly(landing, tmp_path / "home")
    seconds = time.monotonic() - started
    assert run.returncode == 1
    out = run.stdout
    assert ("failed at raw/jumin: 住民記録 jumin（resident registry）の使えるデータがないため、今夜の判定を中止しました"
            f" — no usable resident registry data: expected jumin_YYYYMMDD.csv dated on or before {AS_OF} in "
            f"{landing}") in out
    assert "dbt: linkage" not in out and seconds < 40, (seconds, out)
    log = Path(out.split("what happened, in full: ")[1].split()[0])
    assert log.exists() and "STEP_FAILURE" in log.read_text(encoding="utf-8")
    with restricted(tmp_path / "home") as con:
        assert con.execute("select count(*) from information_schema.tables where table_schema = 'marts'"
                           ).fetchone()[0] == 0


# ------------------------------------------------------------------------------ kills


@pytest.fixture(scope="module")
def uninterrupted(clean_municipality, tmp_path_factory):
    """The reference: tonight's night on an empty home, never interrupted."""
    home = tmp_path_factory.mktemp("uninterrupted") / "home"
    assert run_nightly(home, clean_municipality / "landing", AS_OF, quiet=True).result.success
    return home


def exports(home: Path) -> dict[str, bytes]:
    folder = home / "exports" / AS_OF.isoformat()
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def assert_whole(home: Path) -> None:
    """What must hold after any kill: the store opens, attendance has one row per pupil and day, the
    audit log verifies, by the library and by the command."""
    with restricted(home) as con:
        if con.execute("select count(*) from information_schema.tables where table_name = 'shukketsu'").fetchone()[0]:
            assert con.execute("select count(*) from (select pupil_id, school_day from raw.shukketsu "
                               "group by all having count(*) > 1)").fetchone()[0] == 0
    audit = verify(home / "audit" / "audit.log")
    assert audit.ok, audit.problem
    cli = subprocess.run([MIMAMORI, "audit", "verify", "--home", str(home)], capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr


def assert_same_as_uninterrupted(home: Path, reference: Path) -> None:
    assert exports(home) == exports(reference)  # byte for byte
    assert sorted(p.name for p in (home / "exports").iterdir()) == [AS_OF.isoformat()]  # nothing half-written
    tables = ("raw.shukketsu", "raw.jumin", "raw.zei", "marts.child_signals", "marts.flagged_children")
    counts = []
    for h in (home, reference):
        with restricted(h) as con:
            counts.append({t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in tables})
    assert counts[0] == counts[1]
    with restricted(home) as con:  # rows a killed night staged in the store are gone
        assert con.execute("select table_name from information_schema.tables where table_name like '%staged%'"
                           ).fetchall() == []
    import dagster as dg

    statuses = [r.status.value for r in dg.DagsterInstance.from_config(str(home / ".dagster")).get_runs()]
    assert "STARTED" not in statuses and "FAILURE" in statuses  # the killed runs are closed, not 'running'


def test_a_night_killed_while_loading_then_in_dbt_then_in_the_marts_is_made_whole_by_running_it_again(
        clean_municipality, uninterrupted, tmp_path):
    """Four kills in a row on one home (each run is the same night again), then a whole run. The first
    comes while attendance is read in 64 KB batches, two of them being validated in threads."""
    landing, home = clean_municipality / "landing", tmp_path / "home"
    for point in ["ingest_batch:shukketsu", "ingest_load:shukketsu", "dbt", "analysis_marts"]:
        batches = {BATCH_ENV: "65536"} if point == "ingest_batch:shukketsu" else {}
        killed = nightly(landing, home, env={"MIMAMORI_FAILPOINT": point, **batches})
        assert killed.returncode == -signal.SIGKILL, (point, killed.stdout[-2000:])
        assert_whole(home)
    assert run_nightly(home, landing, AS_OF, quiet=True).result.success  # the same night again
    assert_whole(home)
    assert_same_as_uninterrupted(home, uninterrupted)


def test_a_night_killed_while_swapping_in_the_lists_is_made_whole_by_running_it_again(
        clean_municipality, uninterrupted, tmp_path):
    """Tonight's lists exist already; the night is run again and killed after moving them aside."""
    landing, home = clean_municipality / "landing", tmp_path / "home"
    shutil.copytree(uninterrupted, home, ignore=shutil.ignore_patterns("nightly.lock"))
    killed = nightly(landing, home, env={"MIMAMORI_FAILPOINT": "export_swap"})
    assert killed.returncode == -signal.SIGKILL, killed.stdout[-2000:]
    assert not (home / "exports" / AS_OF.isoformat()).exists()
    assert (home / "exports" / f".{AS_OF.isoformat()}.old").exists()
    assert_whole(home)
    assert run_nightly(home, landing, AS_OF, quiet=True).result.success  # the same night again
    assert_same_as_uninterrupted(home, uninterrupted)
