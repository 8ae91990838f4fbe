"""pandera schema (polars backend) of the caseworkers' returned lists (../shared/spec/reviews.md), after
normalisation. Rows whose three input columns are all blank were skipped before (not reviewed yet), and
rows with only one or two of them filled were quarantined before (their fields cannot be judged alone).

``listed`` holds "宛名番号|判定基準日" of every child on every list made so far: a review of a child who was
not on the list of its 判定基準日 is quarantined.
"""

from __future__ import annotations

from datetime import date

import pandera.polars as pa
import polars as pl

from schemas.contract import LINKAGE_DECISIONS, REVIEW_RESULTS

STAFF_CODE = r"^[A-Za-z0-9]{1,10}$"


def returns(as_of: date, listed: set[str]) -> pa.DataFrameSchema:
    def on_that_list(data) -> pl.LazyFrame:
        key = pl.format("{}|{}", "address_code", pl.col("list_date").dt.strftime("%Y-%m-%d"))
        return data.lazyframe.select(key.is_in(list(listed)))

    return pa.DataFrameSchema(
        {
            "address_code": pa.Column(pl.String, nullable=False, title="宛名番号"),
            "list_date": pa.Column(pl.Date, nullable=False, title="判定基準日"),
            "reviewed_on": pa.Column(pl.Date, nullable=False, title="確認日", checks=[
                pa.Check.le(as_of, error=f"確認日: この夜（{as_of}）より後の日付です")]),
            "result": pa.Column(pl.String, nullable=False, title="確認結果", checks=[
                pa.Check.isin(list(REVIEW_RESULTS), error="確認結果: コード表にない値です")]),
            "reviewer": pa.Column(pl.String, nullable=False, title="確認者", checks=[
                pa.Check.str_matches(STAFF_CODE, error="確認者: 職員コード（半角英数字1〜10文字）ではありません")]),
        },
        checks=[
            pa.Check(lambda d: d.lazyframe.select(pl.col("reviewed_on") >= pl.col("list_date")),
                     error="確認日が判定基準日より前です", name="reviewed_after_listed"),
            pa.Check(on_that_list, error="宛名番号: この判定基準日のリストに載っていません", name="on_that_list"),
        ],
        name="returns", title="確認結果",
    )


def linkage_returns(as_of: date) -> pa.DataFrameSchema:
    """The data team's 照合確認 rows (after the unfilled rows were skipped and the half-filled quarantined)."""
    return pa.DataFrameSchema(
        {
            "case_number": pa.Column(pl.String, nullable=False, title="児相ケース番号"),
            "address_code": pa.Column(pl.String, nullable=False, title="宛名番号"),
            "decision": pa.Column(pl.String, nullable=False, title="判定", checks=[
                pa.Check.isin(list(LINKAGE_DECISIONS), error="判定: 同一 か 別人 ではありません")]),
            "reviewed_on": pa.Column(pl.Date, nullable=False, title="確認日", checks=[
                pa.Check.le(as_of, error=f"確認日: この夜（{as_of}）より後の日付です")]),
            "reviewer": pa.Column(pl.String, nullable=False, title="確認者", checks=[
                pa.Check.str_matches(STAFF_CODE, error="確認者: 職員コード（半角英数字1〜10文字）ではありません")]),
            "pair_hash": pa.Column(pl.String, nullable=False, title="照合キー", checks=[
                pa.Check.str_matches(r"^[0-9a-f]{16}:[0-9a-f]{16}$", error="照合キー: 書き換えられています")]),
        },
        name="linkage_returns", title="照合確認",
    )
