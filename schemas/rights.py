"""Residents' requests as the central data manager drops them (../shared/spec/rights.md): corrections
(訂正), suspensions of use (利用停止) and consents (同意). Their columns as data, as for the extracts, and
their pandera schemas (polars backend), with the reasons in Japanese that the quarantine file shows.
"""

from __future__ import annotations

from datetime import date

import pandera.polars as pa
import polars as pl

from schemas.contract import EXTRACTS, Column, Extract

SUSPENSION_REASONS = ("利用停止請求", "同意撤回", "その他")

TEISEI = Extract(
    "teisei", "総括管理主体 corrections accepted (訂正)", False,
    (
        Column("受付番号", "receipt", "code", True),
        Column("抽出", "extract", "code", True, tuple(EXTRACTS)),
        Column("行の鍵", "row_key", "text", True),
        Column("項目", "column_ja", "text"),
        Column("訂正後の値", "new_value", "text"),
        Column("理由", "reason", "text"),
    ),
    description="One accepted correction of one department row (a value, or the whole record).",
    group="residents_rights", title="訂正", english="corrections",
)
TEISHI = Extract(
    "teishi", "総括管理主体 suspensions of use (利用停止)", False,
    (
        Column("受付番号", "receipt", "code", True),
        Column("宛名番号", "address_code", "id15", True),
        Column("開始日", "start_date", "date", True),
        Column("終了日", "end_date", "date"),
        Column("理由区分", "reason_kind", "code", True, SUSPENSION_REASONS),
    ),
    description="One person's data set aside from 開始日 to 終了日.",
    group="residents_rights", title="利用停止", english="suspensions of use",
)
DOUI = Extract(
    "doui", "総括管理主体 consents (同意), for lawful_basis: consent", False,
    (
        Column("受付番号", "receipt", "code", True),
        Column("宛名番号", "address_code", "id15", True),
        Column("同意日", "consented_on", "date", True),
        Column("撤回日", "withdrawn_on", "date"),
    ),
    description="A guardian's consent for one child, and its withdrawal.",
    group="residents_rights", title="同意", english="consents",
)
REQUESTS = {e.name: e for e in (TEISEI, TEISHI, DOUI)}


def _not_after(column: str, label: str, as_of: date) -> pa.Check:
    return pa.Check.le(as_of, error=f"{label}: この夜（{as_of}）より後の日付です")


def teisei(as_of: date) -> pa.DataFrameSchema:
    return pa.DataFrameSchema({
        "receipt": pa.Column(pl.String, nullable=False),
        "extract": pa.Column(pl.String, nullable=False),
        "row_key": pa.Column(pl.String, nullable=False),
        "column_ja": pa.Column(pl.String, nullable=True),
        "new_value": pa.Column(pl.String, nullable=True),
        "reason": pa.Column(pl.String, nullable=True),
    }, name="teisei", title="訂正")


def teishi(as_of: date) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "receipt": pa.Column(pl.String, nullable=False),
            "address_code": pa.Column(pl.String, nullable=False),
            "start_date": pa.Column(pl.Date, nullable=False, checks=[_not_after("start_date", "開始日", as_of)]),
            "end_date": pa.Column(pl.Date, nullable=True),
            "reason_kind": pa.Column(pl.String, nullable=False),
        },
        checks=[pa.Check(lambda d: d.lazyframe.select(
            pl.col("end_date").is_null() | (pl.col("end_date") >= pl.col("start_date"))),
            error="終了日が開始日より前です", name="end_after_start")],
        name="teishi", title="利用停止")


def doui(as_of: date) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "receipt": pa.Column(pl.String, nullable=False),
            "address_code": pa.Column(pl.String, nullable=False),
            "consented_on": pa.Column(pl.Date, nullable=False, checks=[_not_after("consented_on", "同意日", as_of)]),
            "withdrawn_on": pa.Column(pl.Date, nullable=True),
        },
        checks=[pa.Check(lambda d: d.lazyframe.select(
            pl.col("withdrawn_on").is_null() | (pl.col("withdrawn_on") >= pl.col("consented_on"))),
            error="撤回日が同意日より前です", name="withdrawn_after_consented")],
        name="doui", title="同意")


SCHEMAS = {"teisei": teisei, "teishi": teishi, "doui": doui}
