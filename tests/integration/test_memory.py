"""Bounded memory: the dirty tiny municipality's two nights with every department file read in small
batches (as a city's large files are) make the same tables, quarantine files and load log as read whole."""

import os
from datetime import timedelta

import pytest

from pipelines.core.config import operations
from pipelines.ingest.streaming import BATCH_ENV
from pipelines.nightly import run_nightly
from tests.helpers import AS_OF, restricted

pytestmark = pytest.mark.slow

BATCH = 64 * 1024
TABLES = ["raw.jumin", "raw.zei", "raw.fukushi", "raw.gakureibo", "raw.shukketsu", "raw.kenshin",
          "marts.child_signals", "marts.flagged_children"]
LOAD_LOG = ("select extract, file_name, status, encoding, sha256, rows_read, rows_loaded, rows_quarantined "
            "from raw.load_log where extract in ('jumin', 'zei', 'fukushi', 'gakureibo', 'shukketsu', 'kenshin') "
            "order by all")


@pytest.fixture(scope="module")
def batched_home(nightly_home, tmp_path_factory):
    home = tmp_path_factory.mktemp("batched") / "home"
    os.environ[BATCH_ENV] = str(BATCH)
    try:
        nights = [run_nightly(home, nightly_home["landing"], day, quiet=True)
                  for day in (AS_OF - timedelta(days=1), AS_OF)]
    finally:
        del os.environ[BATCH_ENV]
    assert all(n.result.success for n in nights)
    KEPT[home] = [_kept_rows(n.result) for n in nights]
    return home


KEPT: dict = {}  # home → per night, the registry's rows kept as loaded the night before


def _kept_rows(result) -> int:
    [materialization] = result.asset_materializations_for_node("raw__jumin")
    return sum(f["rows_kept_unchanged"] for f in materialization.metadata["files_read"].value)


def _digest(con, table: str) -> tuple:
    cols = [c for c in con.execute(f"select * from {table} limit 0").pl().columns if c != "made_at"]
    return con.execute(f"select count(*), sum(hash({', '.join(cols)})) from {table}").fetchone()


def test_the_large_files_took_several_batches(nightly_home):
    sizes: dict[str, int] = {}
    for path in nightly_home["landing"].glob("*.csv"):
        extract = path.name.split("_")[0]
        sizes[extract] = max(sizes.get(extract, 0), path.stat().st_size)
    assert sizes["shukketsu"] > 4 * BATCH and sizes["jumin"] > 2 * BATCH, sizes


def test_a_night_read_in_batches_makes_the_same_tables(nightly_home, batched_home):
    with restricted(nightly_home["home"]) as whole, restricted(batched_home) as batched:
        for table in TABLES:
            assert _digest(batched, table) == _digest(whole, table), table
        assert batched.execute(LOAD_LOG).fetchall() == whole.execute(LOAD_LOG).fetchall()


def test_the_second_night_kept_the_registrys_unchanged_rows_and_read_the_others(nightly_home, batched_home):
    """(pipelines/ingest/line_index.py) — and made the same tables and files as above, which read it whole."""
    first, second = KEPT[batched_home]
    with restricted(batched_home) as con:
        loaded, quarantined = con.execute("select rows_loaded, rows_quarantined from raw.load_log where "
                                          "extract = 'jumin' and status = 'loaded' order by logged_at desc limit 1"
                                          ).fetchone()
    assert first == 0 and 0.5 * loaded < second < loaded and quarantined > 0
    with restricted(batched_home) as con:  # only the snapshots of `diff_snapshots` are indexed (not the tax file)
        assert {e for (e,) in con.execute("select extract from raw._line_index").fetchall()} == \
            {"jumin", "kenshin", "fukushi"} == set(operations()["diff_snapshots"])
        assert con.execute("select count(*) from duckdb_tables() where table_name like '\\_line\\_index\\_%' "
                           "escape '\\'").fetchone()[0] == 3


def test_a_night_read_in_batches_writes_the_same_quarantine_files(nightly_home, batched_home):
    for day in (AS_OF - timedelta(days=1), AS_OF):
        whole = nightly_home["home"] / "quarantine" / day.isoformat()
        batched = batched_home / "quarantine" / day.isoformat()
        names = sorted(p.name for p in whole.glob("*.csv"))
        assert names and names == sorted(p.name for p in batched.glob("*.csv"))
        for name in names:
            assert (batched / name).read_bytes() == (whole / name).read_bytes(), name


def test_a_night_leaves_no_data_in_reference_cycles(dirty_municipality, tmp_path):
    """`mimamori` runs Python's cycle collector rarely (pipelines/cli.py), so whatever a reference cycle
    holds stays in memory until it runs: a night's data frames must be freed by reference counting alone.
    (A kept UnicodeDecodeError once held the reading frames, and the validated extracts with them.)"""
    import gc

    import polars as pl

    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds unreachable is kept in gc.garbage, to be seen
    try:
        night = run_nightly(tmp_path / "home", dirty_municipality / "landing", AS_OF - timedelta(days=1),
                            quiet=True)
        gc.collect()
        held = [f"{frame.shape}: {frame.columns[:4]}" for frame in gc.garbage
                if isinstance(frame, pl.DataFrame) and frame.height >= 100]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert night.result.success
    assert not held, f"data frames freed only by the cycle collector: {held}"


def test_a_diff_killed_in_its_load_leaves_yesterdays_registry_and_running_again_makes_the_same_tables(
        nightly_home, tmp_path):
    """The registry's second night, loaded as a diff, killed inside its transaction: the store still holds
    the first night's registry and that file's index (not half of each); the night run again keeps the
    unchanged rows and makes the tables the uninterrupted nights made."""
    import signal

    from tests.helpers import nightly

    home, landing = tmp_path / "home", nightly_home["landing"]
    os.environ[BATCH_ENV] = str(BATCH)
    try:
        assert run_nightly(home, landing, AS_OF - timedelta(days=1), quiet=True).result.success
        with restricted(home) as con:
            yesterdays = con.execute("select distinct _source_file from raw.jumin").fetchall()
        killed = nightly(landing, home, env={"MIMAMORI_FAILPOINT": "ingest_load:jumin"})
        assert killed.returncode == -signal.SIGKILL, killed.stdout[-2000:]
        with restricted(home) as con:
            assert con.execute("select distinct _source_file from raw.jumin").fetchall() == yesterdays
            held = con.execute("select sha256 from raw.load_log where extract = 'jumin' and status = 'loaded' "
                               "order by logged_at desc limit 1").fetchone()
            assert con.execute("select sha256 from raw._line_index where extract = 'jumin'").fetchone() == held
        again = run_nightly(home, landing, AS_OF, quiet=True)
    finally:
        del os.environ[BATCH_ENV]
    assert again.result.success and _kept_rows(again.result) > 0
    with restricted(nightly_home["home"]) as whole, restricted(home) as rerun:
        for table in TABLES:
            assert _digest(rerun, table) == _digest(whole, table), table
