"""The analysts' tables keep their history across nights (analysis.publish), across versions too."""

from datetime import date

import duckdb
import polars as pl

from pipelines.analysis.marts import publish

NIGHT_1, NIGHT_2 = date(2026, 11, 29), date(2026, 11, 30)


def test_a_night_published_again_replaces_its_rows_and_a_new_column_leaves_earlier_nights_empty(tmp_path):
    con = duckdb.connect(str(tmp_path / "analysis.duckdb"))
    publish(con, "child_indicators", pl.DataFrame({"as_of": [NIGHT_1] * 2, "child_token": ["a", "b"]}), NIGHT_1)
    publish(con, "child_indicators", pl.DataFrame({"as_of": [NIGHT_2], "child_token": ["a"]}), NIGHT_2)
    # a later version adds a column; the same night is run again
    later = pl.DataFrame({"as_of": [NIGHT_2] * 2, "child_token": ["a", "c"], "signal_h3": [True, False]})
    publish(con, "child_indicators", later, NIGHT_2)
    rows = con.execute("select as_of, child_token, signal_h3 from child_indicators order by 1, 2").fetchall()
    assert rows == [(NIGHT_1, "a", None), (NIGHT_1, "b", None), (NIGHT_2, "a", True), (NIGHT_2, "c", False)]
    assert [c for (c,) in con.execute("select column_name from (describe child_indicators)").fetchall()] == \
        ["as_of", "child_token", "signal_h3"]
    publish(con, "child_indicators", later, NIGHT_2)  # and once more: nothing added twice
    assert con.execute("select count(*) from child_indicators").fetchone()[0] == 4
