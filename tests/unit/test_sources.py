"""Which file a department's table stands for (pipelines.ingest.sources.data_in_use), as the lists, the report
and the summary say it."""

from datetime import date

import duckdb
import pytest

from pipelines.ingest.sources import data_in_use
from schemas.contract import EXTRACTS


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw")
    con.execute("CREATE TABLE raw.load_log (extract VARCHAR, file_name VARCHAR, extracted_on DATE, status VARCHAR)")
    yield con
    con.close()


def _table(con, extract: str, rows: list[tuple]) -> None:
    con.execute(f"CREATE TABLE raw.{extract} (_source_file VARCHAR, _extracted_on DATE)")
    if rows:
        con.executemany(f"INSERT INTO raw.{extract} VALUES (?, ?)", rows)


def test_a_snapshot_is_its_file_and_a_delta_table_the_range_of_its_files(con):
    _table(con, "jumin", [("jumin_20261130.csv", date(2026, 11, 30))] * 3)
    days = [date(2026, 11, d) for d in (28, 27, 29, 28)]
    _table(con, "shukketsu", [(f"shukketsu_{d:%Y%m%d}.csv", d) for d in days] + [(None, None)])
    assert data_in_use(con, EXTRACTS["jumin"]) == ("jumin_20261130.csv", date(2026, 11, 30))
    assert data_in_use(con, EXTRACTS["shukketsu"]) == ("shukketsu_20261127.csv 〜 shukketsu_20261129.csv",
                                                       date(2026, 11, 29))


def test_one_delta_file_is_named_alone_and_a_later_empty_delta_extends_the_range(con):
    _table(con, "shukketsu", [("shukketsu_20261128.csv", date(2026, 11, 28))] * 2)
    assert data_in_use(con, EXTRACTS["shukketsu"]) == ("shukketsu_20261128.csv", date(2026, 11, 28))
    con.execute("INSERT INTO raw.load_log VALUES ('shukketsu', 'shukketsu_20261129.csv', DATE '2026-11-29', 'loaded')")
    assert data_in_use(con, EXTRACTS["shukketsu"]) == ("shukketsu_20261128.csv 〜 shukketsu_20261129.csv",
                                                       date(2026, 11, 29))


def test_no_table_or_no_rows_is_no_data(con):
    assert data_in_use(con, EXTRACTS["zei"]) == (None, None)
    _table(con, "zei", [])
    assert data_in_use(con, EXTRACTS["zei"]) == (None, None)
    _table(con, "shukketsu", [])
    assert data_in_use(con, EXTRACTS["shukketsu"]) == (None, None)
