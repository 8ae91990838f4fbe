"""The real nightly job (Dagster, pandera, DuckDB, dbt) on the generated dirty tiny municipality,
run on two consecutive nights."""

import shutil
from datetime import timedelta

import polars as pl
import pytest

from pipelines.core import config
from pipelines.core.audit import AuditLog
from pipelines.nightly import run_nightly
from pipelines.quality.summary import render
from tests.helpers import AS_OF, check_evaluations, materialization, rerun_tonight, restricted


def checks(result) -> dict[str, bool]:
    return {key: evaluation.passed for key, evaluation in check_evaluations(result).items()}


def test_both_nights_succeed_and_make_the_list(nightly_home):
    assert nightly_home["first"].result.success and nightly_home["second"].result.success
    with restricted(nightly_home["home"]) as con:
        flagged = con.execute("select count(*) from marts.flagged_children").fetchone()[0]
        children = con.execute("select count(*) from marts.child_signals").fetchone()[0]
    assert children > 100 and 0 < flagged < children


def test_every_row_of_every_file_is_loaded_or_quarantined(nightly_home):
    home = nightly_home["home"]
    with restricted(home) as con:
        log = con.execute("select extract, file_name, status, rows_read, rows_loaded, rows_quarantined "
                          "from raw.load_log").pl()
        # a snapshot whose file has the same bytes as the day before (the 児童相談所's list, tiny's few cases)
        # is relabelled, not read again
        assert log["status"].is_in(["loaded", "unchanged"]).all() and (log["status"] == "loaded").sum() > 10
        log = log.filter(pl.col("status") == "loaded")
        assert (log["rows_read"] == log["rows_loaded"] + log["rows_quarantined"]).all()
        purged = [e for e in AuditLog(home / "audit" / "audit.log").entries() if e["event"] == "purge"][-1]
        for row in log.filter(pl.col("extract") != "shukketsu").iter_rows(named=True):
            if row["file_name"].endswith("20261130.csv"):
                table_rows = con.execute(f"select count(*) from raw.{row['extract']}").fetchone()[0]
                # loaded, less what retention purged at the end of the night
                assert table_rows == row["rows_loaded"] - purged["details"]["rows"].get(f"raw.{row['extract']}", 0), row
    quarantined = log["rows_quarantined"].sum()
    assert quarantined > 0  # the dirty generator plants bad rows
    files = list((home / "quarantine").rglob("*.csv"))
    rows_in_files = sum(len(p.read_text(encoding="utf-8-sig").splitlines()) - 1 for p in files)
    tonight = log.filter(pl.col("file_name").str.contains("2026113") | pl.col("file_name").str.contains("2026112"))
    assert rows_in_files == tonight["rows_quarantined"].sum()


def test_materialisations_record_file_sha256_encoding_and_counts(nightly_home):
    md = materialization(nightly_home["second"].result, "raw/kenshin")
    assert md["file"] == "kenshin_20261130.csv" and md["encoding"] == "utf-8-sig" and len(md["sha256"]) == 64
    assert md["rows_read"] == md["rows_loaded"] + md["rows_quarantined"] and md["rows_quarantined"] > 0
    assert checks(nightly_home["second"].result)["raw/kenshin:rows_reconcile"]


def test_attendance_deltas_load_once_and_a_later_correction_wins(nightly_home):
    with restricted(nightly_home["home"]) as con:
        loaded = con.execute("select file_name, count(*) from raw.load_log where extract = 'shukketsu' "
                             "group by all order by 1").fetchall()
        # the base file and the first delta on night 1, the second delta on night 2: each once
        assert [n for _, n in loaded] == [1, 1, 1]
        dupes = con.execute("select count(*) from (select pupil_id, school_day from raw.shukketsu "
                            "group by all having count(*) > 1)").fetchone()[0]
        assert dupes == 0
        corrected = con.execute(
            "select count(*) from raw.shukketsu where _source_file = 'shukketsu_20261130.csv' "
            "and school_day < date '2026-11-30'").fetchone()[0]
    assert corrected > 0  # rows of earlier days now come from the correcting file
    md = materialization(nightly_home["second"].result, "raw/shukketsu")
    assert md["files_already_loaded"] == 2


def _table_digest(con, table: str) -> tuple:
    cols = [c for c in con.execute(f"select * from {table} limit 0").pl().columns if c not in {"made_at"}]
    return con.execute(f"select count(*), sum(hash({', '.join(cols)})) from {table}").fetchone()


TABLES = ["raw.jumin", "raw.zei", "raw.fukushi", "raw.gakureibo", "raw.shukketsu", "raw.kenshin",
          "marts.child_signals", "marts.flagged_children", "marts.flag_list_history"]


@pytest.fixture(scope="module")
def tonight_again(nightly_home, tmp_path_factory):
    """Night T run again on a copy of the home: (tables before, home, run)."""
    home = tmp_path_factory.mktemp("again") / "home"
    shutil.copytree(nightly_home["home"], home, ignore=shutil.ignore_patterns(".dagster"))
    with restricted(home) as con:
        before = {t: _table_digest(con, t) for t in TABLES}
    return before, home, run_nightly(home, nightly_home["landing"], AS_OF, quiet=True)


def test_the_same_night_run_twice_gives_the_same_tables(tonight_again):
    before, home, again = tonight_again
    assert again.result.success
    with restricted(home) as con:
        after = {t: _table_digest(con, t) for t in TABLES}
    assert after == before


def test_second_night_marks_continuing_children(nightly_home):
    with restricted(nightly_home["home"]) as con:
        runs = con.execute("select as_of from marts.flag_list_runs order by 1").fetchall()
        status = dict(con.execute("select change_since_previous, count(*) from marts.flagged_children "
                                  "group by all").fetchall())
        previous = con.execute("select count(*) from marts.flag_list_history where as_of = ?",
                               [AS_OF - timedelta(days=1)]).fetchone()[0]
    assert [r[0] for r in runs] == [AS_OF - timedelta(days=1), AS_OF]
    assert previous > 0 and status.get("継続", 0) > 0
    assert status.get("継続", 0) <= previous


def test_flag_list_carries_reasons_support_and_rule_version(nightly_home):
    with restricted(nightly_home["home"]) as con:
        rows = con.execute("select * from marts.flagged_children order by list_order").pl()
    assert (rows["domain_count"] >= 2).all()
    assert rows["domain_count"].to_list() == sorted(rows["domain_count"].to_list(), reverse=True)
    assert rows["rule_version"].unique().to_list() == [config.rules()["version"]]
    assert set(rows["support_status"]) <= {"支援中", "未支援"}
    for reasons, ids in zip(rows["reasons"], rows["signal_ids"]):
        assert [line.split(" ")[0] for line in reasons.split("\n")] == ids.to_list()


def test_planted_children_are_found(nightly_home, dirty_municipality):
    planted = pl.read_csv(dirty_municipality / "answers" / "planted_children.csv", schema_overrides={"宛名番号": pl.String})
    with restricted(nightly_home["home"]) as con:
        flagged = set(con.execute("select address_code from marts.flagged_children").pl()["address_code"])
    found = [c for c in planted["宛名番号"] if c in flagged]
    assert len(found) >= len(planted) // 2, (found, planted)


@pytest.fixture(scope="module")
def broken_registry_night(nightly_home, tmp_path_factory):
    """Tonight's registry file is corrupted; the rest of the landing folder is as it was. Run once."""
    def corrupt(landing):
        jumin = landing / "jumin_20261130.csv"
        data = bytearray(jumin.read_bytes())
        data[len(data) // 2] = 0xFF  # not a byte of CP932 or UTF-8
        jumin.write_bytes(bytes(data))

    home, landing, run = rerun_tonight(nightly_home, tmp_path_factory.mktemp("broken"), corrupt)
    return home, landing, (landing / "jumin_20261130.csv").read_bytes(), run


def test_a_rejected_file_keeps_last_good_data_marks_it_stale_and_the_night_goes_on(broken_registry_night):
    home, landing, data, run = broken_registry_night
    assert run.result.success
    c = checks(run.result)
    assert c["raw/jumin:file_accepted"] is False and c["raw/jumin:data_current"] is False
    assert c["raw/zei:file_accepted"] is True
    assert (landing / "jumin_20261130.csv").read_bytes() == data  # untouched
    with restricted(home) as con:
        status, message = con.execute("select status, message from raw.load_log where file_name = "
                                      "'jumin_20261130.csv' order by logged_at desc limit 1").fetchone()
        in_use = con.execute("select max(_extracted_on) from raw.jumin").fetchone()[0]
        flagged = con.execute("select count(*) from marts.flagged_children").fetchone()[0]
    assert status == "rejected" and "読めないバイト" in message
    assert str(in_use) == "2026-11-30"  # last good: the copy of tonight's earlier successful load
    assert flagged > 0
    md = materialization(run.result, "raw/jumin")
    assert "jumin_20261130.csv" in md["rejected_files"][0] and "行目" in md["rejected_files"][0]


def test_summary_names_the_rejected_source_as_stale(broken_registry_night):
    home, landing, _, run = broken_registry_night
    stale = {f["extract"]: f for f in run.summary["stale_sources"]}
    assert list(stale) == ["jumin"] and "読めないバイト" in stale["jumin"]["rejected"]
    rendered = render(run.summary, home, landing)
    assert "STALE jumin" in rendered and "jumin_20261130.csv was rejected" in rendered


def test_an_attendance_delta_with_no_rows_is_current(nightly_home):
    """The first night's newest attendance delta is a Sunday's: a header and no rows. It is still the data
    in use, not a reason to call attendance stale."""
    sunday = nightly_home["landing"] / "shukketsu_20261129.csv"
    assert len(sunday.read_bytes().splitlines()) == 1  # the header only
    run = nightly_home["first"]
    assert run.summary["data_extracted_on"]["shukketsu"] == "2026-11-29"
    assert "shukketsu" not in {f["extract"] for f in run.summary["stale_sources"]}
    assert check_evaluations(run.result)["raw/shukketsu:data_current"].passed


def test_a_new_file_with_the_same_bytes_is_current_without_being_read(nightly_home, tmp_path):
    """Night T + 1 with a tax file byte-identical to T's (tax changes once a year): skipped, yet current."""
    landing, home = tmp_path / "landing", tmp_path / "home"
    shutil.copytree(nightly_home["landing"], landing)
    shutil.copytree(nightly_home["home"], home, ignore=shutil.ignore_patterns(".dagster"))
    tomorrow = AS_OF + timedelta(days=1)
    shutil.copy(landing / "zei_20261130.csv", landing / "zei_20261201.csv")
    run = run_nightly(home, landing, tomorrow, quiet=True)
    assert run.result.success
    md = materialization(run.result, "raw/zei")
    assert md["files_already_loaded"] == 1 and md["rows_read"] == 0
    assert checks(run.result)["raw/zei:data_current"]
    assert "zei" not in {f["extract"] for f in run.summary["stale_sources"]}
    with restricted(home) as con:
        assert con.execute("select distinct _source_file, _extracted_on from raw.zei").fetchall() == \
            [("zei_20261201.csv", tomorrow)]


def test_an_unchanged_snapshot_is_not_read_again(tonight_again):
    """Re-running the night: the snapshots' bytes equal the data in use, so they are skipped, and logged."""
    _, _, run = tonight_again
    assert run.result.success
    md = materialization(run.result, "raw/zei")
    assert md["files_already_loaded"] == 1 and md["rows_read"] == 0
    assert checks(run.result)["raw/zei:data_current"]
    statuses = {f["file"]: f["status"] for f in run.summary["files"]}
    assert statuses["zei_20261130.csv"] == "unchanged"


def test_a_delta_loaded_before_is_not_hashed_again_until_its_bytes_change(dirty_municipality, tmp_path, monkeypatch):
    """Every delta of the school year stays in the landing folder: a file loaded before and untouched since
    is known by its fingerprint, not read again; rewritten (same size, its modification time set back),
    it is read and loaded again."""
    import os

    from pipelines.ingest import assets
    from pipelines.ingest import extracts as ingest

    landing, home = tmp_path / "landing", tmp_path / "home"
    shutil.copytree(dirty_municipality / "landing", landing)
    monkeypatch.setattr(ingest, "RACY_SECONDS", 0)  # the files were written a moment ago
    assert run_nightly(home, landing, AS_OF, quiet=True).result.success
    hashed = []
    monkeypatch.setattr(assets, "file_sha256", lambda path: hashed.append(path.name) or ingest.file_sha256(path))

    again = run_nightly(home, landing, AS_OF, quiet=True)
    deltas = sorted(p.name for p in landing.glob("shukketsu_*.csv"))
    assert again.result.success and len(deltas) >= 2
    assert materialization(again.result, "raw/shukketsu")["files_already_loaded"] == len(deltas)
    assert not [name for name in hashed if name.startswith("shukketsu")]

    rewritten = landing / deltas[-1]
    before = rewritten.stat()
    data = rewritten.read_bytes()
    at = data.index("出席".encode("cp932"), data.index(b"\n"))
    rewritten.write_bytes(data[:at] + "欠席".encode("cp932") + data[at + 4:])
    os.utime(rewritten, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert rewritten.stat().st_size == before.st_size and rewritten.stat().st_mtime_ns == before.st_mtime_ns
    third = run_nightly(home, landing, AS_OF, quiet=True)
    assert third.result.success and rewritten.name in hashed
    assert materialization(third.result, "raw/shukketsu")["files_already_loaded"] == len(deltas) - 1
    with restricted(home) as con:
        loads = con.execute("select count(*) from raw.load_log where file_name = ? and status = 'loaded'",
                            [rewritten.name]).fetchone()[0]
    assert loads == 2
