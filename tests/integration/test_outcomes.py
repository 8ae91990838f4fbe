"""A school year replayed through real nights (seeds/history.py, as bench/outcomes.py does at kaga over nine
months): the departments deliver, the night runs, the caseworkers' returns of its list come back for the next
night, and the analysts' months carry each support start. Two nights of the tiny municipality (support's effect on
the days after a start: tests/unit/test_outcomes.py)."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl
import pytest

from pipelines.nightly import run_nightly
from seeds.history import SchoolYearHistory, replay
from tests.helpers import restricted

pytestmark = pytest.mark.slow
AS_OF = date(2026, 6, 1)


@pytest.fixture(scope="module")
def year(tmp_path_factory):
    folder = tmp_path_factory.mktemp("history")
    history = SchoolYearHistory("tiny", 12, AS_OF, folder / "municipality", effect=0.9)
    home = folder / "home"
    home.mkdir(mode=0o700)

    def listed(night: date) -> list[str]:
        with restricted(home) as con:
            return [r[0] for r in con.execute("select address_code from marts.flag_list_history where as_of = ?",
                                              [night]).fetchall()]

    nights = replay(history, lambda night: run_nightly(home, history.landing, night, quiet=True), listed)
    return {"history": history, "home": home, "nights": nights}


def test_each_night_reads_the_returns_of_the_list_before_it(year):
    history, home = year["history"], year["home"]
    assert history.nights == [date(2026, 5, 1), AS_OF] and all(n.result.success for n in year["nights"])
    [returned] = (history.landing / "returns").glob("*.csv")
    rows = pl.read_csv(returned, encoding="cp932", infer_schema=False)
    assert rows.height > 0 and set(rows["確認結果"]) <= {"要支援", "見守り"}
    with restricted(home) as con:
        loaded = con.execute("select address_code, result from raw.reviews").fetchall()
    assert sorted(loaded) == sorted(zip(rows["宛名番号"], rows["確認結果"]))  # every review loaded, none quarantined
    assert len(history.support_start) == (rows["確認結果"] == "要支援").sum()


def test_the_analysts_months_carry_the_support_start_under_tokens(year):
    history, home = year["history"], year["home"]
    con = duckdb.connect(str(home / "warehouse" / "analysis.duckdb"), read_only=True)
    months = con.execute("select * from outcome_months").pl()
    con.close()
    starts = months.filter(pl.col("support_start").is_not_null()).select("child_token", "support_start").unique()
    assert starts.height == len(history.support_start) > 0
    assert sorted(starts["support_start"]) == sorted(date.fromordinal(date(1970, 1, 1).toordinal() + d)
                                                     for d in history.support_start.values())
    assert {"2026-04", "2026-05"} <= set(months["month"]) and months["child_token"].str.len_chars().eq(32).all()

