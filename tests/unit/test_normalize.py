"""The normalisation rules of extracts.md, one by one."""

from datetime import date

import polars as pl
import pytest

from pipelines.ingest.normalize import PROBLEMS, normalise, normalise_column, parse_date, parse_fiscal_year
from schemas.contract import EXTRACTS


def dates(*texts: str | None) -> list[date | None]:
    return pl.DataFrame({"x": list(texts)}, schema={"x": pl.String}).select(parse_date(pl.col("x")).alias("x"))["x"].to_list()


@pytest.mark.parametrize("text, expected", [
    ("2026-11-30", date(2026, 11, 30)),
    ("2026/1/5", date(2026, 1, 5)),
    ("20261130", date(2026, 11, 30)),
    ("R5.4.1", date(2023, 4, 1)),
    ("R05.04.01", date(2023, 4, 1)),
    ("令和5年4月1日", date(2023, 4, 1)),
    ("令和元年5月1日", date(2019, 5, 1)),
    ("H31.4.30", date(2019, 4, 30)),
    ("平成31年4月30日", date(2019, 4, 30)),
    ("S63.1.1", date(1988, 1, 1)),
    ("昭和64年1月7日", date(1989, 1, 7)),
    ("T1.7.30", date(1912, 7, 30)),
    ("M45.7.29", date(1912, 7, 29)),
    ("Ｒ５．４．１", date(2023, 4, 1)),  # full-width
    ("\u3000２０２６－１１－３０\u3000", date(2026, 11, 30)),  # full-width with stray spaces
])
def test_every_date_format_of_the_contract(text, expected):
    assert dates(text) == [expected]


@pytest.mark.parametrize("text", ["2023-02-30", "R5.13.1", "令和元年4月30日", "H32.1.1", "abc", "2026-11", "R.4.1",
                                  "0000-01-01", "00000101"])
def test_impossible_or_unreadable_dates_are_not_guessed(text):
    assert dates(text) == [None]


def test_empty_date_means_none():
    assert dates("", None, "\u3000") == [None, None, None]


@pytest.mark.parametrize("text, year", [("2026", 2026), ("R8", 2026), ("令和8年度", 2026), ("Ｒ８", 2026),
                                        ("令和元", 2019), ("H30", 2018)])
def test_fiscal_year_in_western_or_era_form(text, year):
    out = pl.DataFrame({"x": [text]}).select(parse_fiscal_year(pl.col("x")).alias("x"))["x"].to_list()
    assert out == [year]


def normalised(extract: str, column: str, values: list[str | None]) -> tuple[list, list]:
    c = EXTRACTS[extract].column(column)
    value, problem = normalise_column(c)
    df = pl.DataFrame({c.japanese: values}, schema={c.japanese: pl.String}).select(value, problem.alias("p"))
    return df[column].to_list(), df["p"].to_list()


def test_address_code_padded_to_15_digits_from_any_width():
    values, problems = normalised("jumin", "address_code", ["123", "１２３", " 000000000000123\u3000", "1234567890123456",
                                                             "12a"])
    assert values[:3] == ["000000000000123"] * 3
    assert values[3:] == [None, None]
    assert problems[3] == "宛名番号: 「1234567890123456」は15桁以内の数字ではありません"
    assert "12a" in problems[4]


def test_required_empty_value_is_a_problem_not_a_null():
    values, problems = normalised("jumin", "address_code", ["", None])
    assert values == [None, None]
    assert problems == ["宛名番号: 必須項目が空です"] * 2


def test_relation_variants_map_to_the_nearest_canonical_code():
    values, problems = normalised("jumin", "relation", ["妻(未届)", "妻（未届）", "子の子", "長男", "子", "夫（未届）", "隣人"])
    assert values[:6] == ["妻", "妻", "孫", "子", "子", "夫"]
    assert problems[:6] == [None] * 6
    assert problems[6] == "続柄: 「隣人」はコード表にない値です"


def test_names_keep_their_inner_text_and_lose_stray_spaces():
    values, _ = normalised("jumin", "full_name", ["\u3000山田\u3000花子\u3000\u3000", " 髙橋　一郎 "])
    assert values == ["山田\u3000花子", "髙橋\u3000一郎"]  # 髙 (a variant kanji) is kept as written


def test_grade_and_heights_in_full_width_digits():
    grades, _ = normalised("gakureibo", "grade", ["３", "3"])
    heights, problems = normalised("kenshin", "height_cm", ["１２３．４", "12x"])
    assert grades == [3, 3]
    assert heights[0] == pytest.approx(123.4) and heights[1] is None
    assert problems[1] == "身長: 「12x」は数値ではありません"


def test_nurse_visit_empty_means_no_visit():
    values, problems = normalised("shukketsu", "nurse_visit", ["1", "0", "", None, "2"])
    assert values[:4] == ["1", "0", "0", "0"]
    assert problems[4] is not None


TRICKY = ["123", "１２３", "1,234", " 12 ", "", None, "12a", "0", "007", "2026-11-30", "2026-02-30", "R5.4.1",
          "99999999999999999999", "\u3000山田\u3000", "妻(未届)", "1", "2", "3.5", "令和8年度",
          "2026-13-01", "1900-02-29", "2000-02-29", "0001-01-01", "0000-01-01", "00000101", "2026-1-05", "２０２６-11-30", " 2026-11-30"]


@pytest.mark.parametrize("extract", list(EXTRACTS))
def test_the_shortcuts_for_canonical_text_give_what_the_full_rules_give(extract):
    """normalise() takes shortcuts (canonical digits without NFKC, trimming on every row, the rest once
    per distinct value); each column must come out as its full rule gives it, value and problem."""
    ex = EXTRACTS[extract]
    raw = pl.DataFrame({"_line": range(len(TRICKY)), **{c.japanese: TRICKY for c in ex.columns}},
                       schema={"_line": pl.Int64, **{c.japanese: pl.String for c in ex.columns}})
    out = normalise(raw, ex)
    for c in ex.columns:
        values, problems = normalised(extract, c.name, TRICKY)
        assert out[c.name].to_list() == values, c.name
        column_problems = [next((p for p in row if p.startswith(f"{c.japanese}:")), None) for row in out[PROBLEMS]]
        assert column_problems == problems, c.name
