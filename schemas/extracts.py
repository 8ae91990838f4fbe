"""pandera schemas (polars backend) of the six department extracts, after normalisation.

One function per extract builds its schema for an extraction date, because "no birth date in the
future" depends on it. Each check carries its reason in Japanese (``error=``): that text is what the
quarantine file's 理由 column shows, so a data holder can read why a row was set aside.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandera.polars as pa
import polars as pl

from schemas.contract import EXTRACTS, Column

EARLIEST_BIRTH = date(1900, 1, 1)


def _column(extract: str, name: str, dtype, *checks: pa.Check) -> pa.Column:
    c: Column = EXTRACTS[extract].column(name)
    if c.codes:
        checks = (pa.Check.isin(list(c.codes), error=f"{c.japanese}: コード表にない値です"), *checks)
    return pa.Column(dtype, checks=list(checks), nullable=not c.required, title=c.japanese)


def _within(label: str, low: date | float, high: date | float) -> pa.Check:
    return pa.Check.in_range(low, high, error=f"{label}: {low}〜{high} の範囲外です")


def unique_key(*columns: str, label: str) -> pa.Check:
    """The first row of each key passes; later rows with the same key are duplicates."""
    return pa.Check(lambda data: data.lazyframe.select(pl.struct(list(columns)).is_first_distinct()),
                    error=f"{label} が重複しています", name="unique_key")


def jumin(as_of: date) -> pa.DataFrameSchema:
    x = "jumin"
    return pa.DataFrameSchema(
        {
            "address_code": _column(x, "address_code", pl.String),
            "household_code": _column(x, "household_code", pl.String),
            "full_name": _column(x, "full_name", pl.String),
            "full_name_kana": _column(x, "full_name_kana", pl.String),
            "birth_date": _column(x, "birth_date", pl.Date, _within("生年月日", EARLIEST_BIRTH, as_of)),
            "sex": _column(x, "sex", pl.String),
            "relation": _column(x, "relation", pl.String),
            "address": _column(x, "address", pl.String),
            "area_code": _column(x, "area_code", pl.String,
                                 pa.Check.str_length(6, 6, error="町丁目コード: 6桁ではありません")),
            "resident_status": _column(x, "resident_status", pl.String),
            "change_reason": _column(x, "change_reason", pl.String),
            "change_date": _column(x, "change_date", pl.Date, _within("異動日", EARLIEST_BIRTH, as_of)),
        },
        checks=[unique_key("address_code", label="宛名番号")],
        name=x, title="住民記録",
    )


def zei(as_of: date) -> pa.DataFrameSchema:
    x = "zei"
    return pa.DataFrameSchema(
        {
            "address_code": _column(x, "address_code", pl.String),
            "fiscal_year": _column(x, "fiscal_year", pl.Int32, _within("課税年度", 1989, as_of.year + 1)),
            "tax_status": _column(x, "tax_status", pl.String),
            "total_income_yen": _column(x, "total_income_yen", pl.Int64,
                                        pa.Check.ge(0, error="総所得金額: 負の値です")),
            "dependants": _column(x, "dependants", pl.Int64, _within("扶養人数", 0, 30)),
        },
        checks=[unique_key("address_code", "fiscal_year", label="宛名番号と課税年度")],
        name=x, title="個人住民税",
    )


def fukushi(as_of: date) -> pa.DataFrameSchema:
    x = "fukushi"
    return pa.DataFrameSchema(
        {
            "address_code": _column(x, "address_code", pl.String),
            "programme": _column(x, "programme", pl.String),
            "start_date": _column(x, "start_date", pl.Date, _within("開始日", date(1950, 1, 1), as_of)),
            "end_date": _column(x, "end_date", pl.Date,
                                _within("終了日", date(1950, 1, 1), as_of + timedelta(days=3 * 366))),
            "household_code": _column(x, "household_code", pl.String),
        },
        checks=[pa.Check(lambda d: d.lazyframe.select(
            pl.col("end_date").is_null() | (pl.col("end_date") >= pl.col("start_date"))),
            error="終了日が開始日より前です", name="end_after_start")],
        name=x, title="福祉",
    )


def gakureibo(as_of: date) -> pa.DataFrameSchema:
    x = "gakureibo"
    return pa.DataFrameSchema(
        {
            "address_code": _column(x, "address_code", pl.String),
            "pupil_id": _column(x, "pupil_id", pl.String,
                                pa.Check.str_length(10, 10, error="児童生徒番号: 10桁ではありません")),
            "school_code": _column(x, "school_code", pl.String),
            "school_name": _column(x, "school_name", pl.String),
            "grade": _column(x, "grade", pl.Int64, _within("学年", 1, 6)),
            "class_name": _column(x, "class_name", pl.String),
            "enrolment_status": _column(x, "enrolment_status", pl.String),
        },
        checks=[
            unique_key("pupil_id", label="児童生徒番号"),
            pa.Check(lambda d: d.lazyframe.select(
                ~pl.col("school_code").str.starts_with("C") | (pl.col("grade") <= 3)),
                error="学年: 中学校で4以上です", name="junior_high_grade"),
        ],
        name=x, title="学齢簿",
    )


def shukketsu(as_of: date) -> pa.DataFrameSchema:
    x = "shukketsu"
    school_year = date(as_of.year if as_of.month >= 4 else as_of.year - 1, 4, 1)
    return pa.DataFrameSchema(
        {
            "pupil_id": _column(x, "pupil_id", pl.String,
                                pa.Check.str_length(10, 10, error="児童生徒番号: 10桁ではありません")),
            "school_code": _column(x, "school_code", pl.String),
            "school_day": _column(x, "school_day", pl.Date,
                                  _within("日付", school_year - timedelta(days=366), as_of)),
            "attendance": _column(x, "attendance", pl.String),
            "absence_reason": _column(x, "absence_reason", pl.String),
            "nurse_visit": _column(x, "nurse_visit", pl.String),
        },
        checks=[unique_key("pupil_id", "school_day", label="児童生徒番号と日付")],
        name=x, title="出欠",
    )


def kenshin(as_of: date) -> pa.DataFrameSchema:
    x = "kenshin"
    return pa.DataFrameSchema(
        {
            "address_code": _column(x, "address_code", pl.String),
            "checkup_kind": _column(x, "checkup_kind", pl.String),
            "scheduled_date": _column(x, "scheduled_date", pl.Date,
                                      _within("予定日", date(2000, 1, 1), as_of + timedelta(days=366))),
            "attended_date": _column(x, "attended_date", pl.Date, _within("受診日", date(2000, 1, 1), as_of)),
            "height_cm": _column(x, "height_cm", pl.Float64, _within("身長", 30.0, 220.0)),
            "weight_kg": _column(x, "weight_kg", pl.Float64, _within("体重", 1.0, 200.0)),
            "result": _column(x, "result", pl.String),
        },
        checks=[unique_key("address_code", "checkup_kind", "scheduled_date", label="宛名番号・健診種別・予定日")],
        name=x, title="健診",
    )


def jisou(as_of: date) -> pa.DataFrameSchema:
    x = "jisou"
    return pa.DataFrameSchema(
        {
            "case_number": _column(x, "case_number", pl.String),
            "full_name": _column(x, "full_name", pl.String),
            "full_name_kana": _column(x, "full_name_kana", pl.String),
            "birth_date": _column(x, "birth_date", pl.Date, _within("生年月日", EARLIEST_BIRTH, as_of)),
            "sex": _column(x, "sex", pl.String),
            "address": _column(x, "address", pl.String),
            "guardian_name": _column(x, "guardian_name", pl.String),
            "case_type": _column(x, "case_type", pl.String),
            "received_on": _column(x, "received_on", pl.Date, _within("受付日", date(1990, 1, 1), as_of)),
            "closed_on": _column(x, "closed_on", pl.Date, _within("終結日", date(1990, 1, 1), as_of)),
        },
        checks=[unique_key("case_number", label="児相ケース番号"),
                pa.Check(lambda d: d.lazyframe.select(
                    pl.col("closed_on").is_null() | (pl.col("closed_on") >= pl.col("received_on"))),
                    error="終結日が受付日より前です", name="closed_after_received")],
        name=x, title="児童相談所",
    )


SCHEMAS = {"jumin": jumin, "zei": zei, "fukushi": fukushi, "gakureibo": gakureibo, "shukketsu": shukketsu,
           "kenshin": kenshin, "jisou": jisou}
assert set(SCHEMAS) == set(EXTRACTS), "one schema per extract of the contract"
