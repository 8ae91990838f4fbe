"""The analysts' store (分析主体): warehouse/analysis.duckdb, pseudonymised and aggregated only.

No name, kana, address, 宛名番号, 世帯番号, 児童生徒番号 or birth date reaches it, not even hashed without a
key. A child (and a household) appears under a token: HMAC-SHA256 with the purpose's secret key, the same
night after night; without the key it can neither be reversed nor recomputed from a 宛名番号. Areas are
towns (the first three digits of the 町丁目コード), never town blocks; ages, never birth dates.

Aggregates (school_karte) suppress any count of fewer than ``small_cell_threshold`` children, and then
one more cell where a suppressed cell could be recomputed from the published school total.
"""

from __future__ import annotations

import hashlib
import hmac
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Iterator

import duckdb
import polars as pl

from pipelines.core.home import Home
from pipelines.core.keys import secret
from pipelines.core.store import incoming_transaction, table_exists

SIGNALS = ["e1", "e2", "e3", "e4", "c1", "c2", "c3", "s1", "s2", "s3", "s4", "h1", "h2"]
DOMAINS = {"economic": "経済", "care": "養育", "school": "学校", "health": "健康"}


def analysis_path(home: Path) -> Path:
    return Home(home).analysis_store


def tokenizer(home: Path, purpose: str):
    """A function identifier → token for one purpose (its own key, created on first use)."""
    key = bytes.fromhex(secret(home, f"pseudonym_{purpose}"))

    keyed = {}  # HMAC state after the key and "kind:", copied per value (a third faster than keying each)

    def token(kind: str, identifier: str) -> str:
        if kind not in keyed:
            keyed[kind] = hmac.new(key, f"{kind}:".encode(), hashlib.sha256)
        h = keyed[kind].copy()
        h.update(identifier.encode())
        return h.hexdigest()[:32]

    return token


def tokens(series: pl.Series, token, kind: str) -> pl.Series:
    """The token of each value; null stays null."""
    return pl.Series(series.name, [None if v is None else token(kind, v) for v in series.to_list()], pl.String)


def night_tokens(restricted: duckdb.DuckDBPyConnection, token, as_of: date) -> pl.DataFrame:
    """address_code → child_token, household_token of the night's children: each HMAC once a night, for
    every table that shows a child (829 k tokens at fukuoka when each table made its own)."""
    c = restricted.execute("select address_code, household_code from marts.child_signals where as_of = ?",
                           [as_of]).pl()
    return c.select("address_code", child_token=tokens(c["address_code"], token, "child"),
                    household_token=tokens(c["household_code"], token, "household"))


def child_indicators(restricted: duckdb.DuckDBPyConnection, ids: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Per child of the night, under its tokens (``ids``, from night_tokens)."""
    c = restricted.execute(f"""
        select address_code, age, sex, left(area_code, 3) as town_code, school_code, grade,
               {', '.join(f'signal_{s}' for s in SIGNALS)}, signal_ids, domains, domain_count, is_flagged,
               is_supported, as_of, rule_version
        from marts.child_signals where as_of = ?""", [as_of]).pl()
    return c.join(ids, on="address_code", how="left").with_columns(
        **{f"domain_{k}": pl.col("domains").str.contains(v) for k, v in DOMAINS.items()},
    ).select("as_of", "child_token", "household_token", "age", "sex", "town_code", "school_code", "grade",
             *[f"signal_{s}" for s in SIGNALS], *[f"domain_{k}" for k in DOMAINS], "domain_count",
             "is_flagged", "is_supported", "rule_version").sort("child_token")


def household_indicators(children: pl.DataFrame) -> pl.DataFrame:
    return children.group_by("as_of", "household_token").agg(
        children=pl.len(),
        town_code=pl.col("town_code").first(),
        youngest_age=pl.col("age").min(),
        **{f"any_signal_{s}": pl.col(f"signal_{s}").any() for s in ["e1", "e2", "e3", "e4", "c1"]},
        children_flagged=pl.col("is_flagged").sum(),
        children_supported=pl.col("is_supported").sum(),
    ).sort("household_token")


def school_karte(restricted: duckdb.DuckDBPyConnection, children: pl.DataFrame, as_of: date,
                 threshold: int) -> pl.DataFrame:
    """Per school and grade, and per school in all (grade 0 = 計): pupils, absence and domain counts."""
    absences = restricted.execute("""
        with per_pupil as (  -- counted per pupil first: a join of 100 k pupils, not of 13 M days (0.37 -> 0.07 s)
            select pupil_id, count(*) filter (where is_absent) as absent_days, count(school_day) as school_days
            from staging.stg_school__attendance
            group by pupil_id
        )
        select p.school_code, p.grade, count(distinct p.pupil_id) as pupils,
               coalesce(sum(a.absent_days), 0)::bigint as absent_days,
               coalesce(sum(a.school_days), 0)::bigint as school_days
        from intermediate.int_pupils p
        left join per_pupil a using (pupil_id)
        group by all""").pl()
    pupils = children.filter(pl.col("school_code").is_not_null())
    counts = pupils.group_by("school_code", "grade").agg(
        **{f"children_{k}": pl.col(f"domain_{k}").sum() for k in DOMAINS},
        children_flagged=pl.col("is_flagged").sum())
    by_grade = absences.join(counts, on=["school_code", "grade"], how="left").fill_null(0)
    totals = by_grade.group_by("school_code").agg(pl.exclude("grade").sum()).with_columns(grade=pl.lit(0))
    karte = pl.concat([by_grade, totals.select(by_grade.columns)], how="vertical_relaxed")
    karte = karte.with_columns(as_of=pl.lit(as_of)).sort("school_code", "grade")
    return suppress(karte, threshold)


COUNT_COLUMNS = ["pupils", *[f"children_{k}" for k in DOMAINS], "children_flagged"]


def suppress(karte: pl.DataFrame, threshold: int) -> pl.DataFrame:
    """Primary suppression (1 … threshold−1 children) and complementary suppression within each school,
    so that no suppressed grade cell equals the school total minus the published grades."""
    out = []
    for _, school in karte.group_by("school_code", maintain_order=True):
        school = school.sort("grade")
        columns = {}
        for col in COUNT_COLUMNS:
            values = school[col].to_list()
            hidden = [0 < v < threshold for v in values]
            grades = [i for i, g in enumerate(school["grade"]) if g != 0]
            total = next(i for i, g in enumerate(school["grade"]) if g == 0)
            if hidden[total]:  # a small school total hides the whole column of that school
                hidden = [True if values[i] > 0 else h for i, h in enumerate(hidden)]
            hidden_grades = [i for i in grades if hidden[i]]
            recomputable = not hidden[total] and hidden_grades and (
                len(hidden_grades) == 1 or sum(values[i] for i in hidden_grades) < threshold)
            if recomputable:
                # complementary: hide the smallest published grade cell too
                candidates = sorted((values[i], i) for i in grades if not hidden[i])
                if candidates:
                    hidden[candidates[0][1]] = True
            columns[col] = [None if h else v for v, h in zip(values, hidden)]
        out.append(school.with_columns(*(pl.Series(c, v, dtype=pl.Int64) for c, v in columns.items())))
    karte = pl.concat(out)
    return karte.with_columns(
        absent_days=pl.when(pl.col("pupils").is_null()).then(None).otherwise(pl.col("absent_days")),
        absence_rate=pl.when(pl.col("pupils").is_null()).then(None)
        .otherwise((pl.col("absent_days") / pl.col("school_days")).round(4)),
    ).drop("school_days").select("as_of", "school_code", "grade", "pupils", "absent_days", "absence_rate",
                                 *COUNT_COLUMNS[1:])


def review_outcomes(restricted: duckdb.DuckDBPyConnection, token) -> pl.DataFrame:
    """Every caseworker's review, pseudonymised (reviews.md): the child's token, the reviewed list's date,
    office and rule version, the days from the child's first night on the list to the review, the result,
    and the signals the child had on that list. No staff code, no 宛名番号."""
    if not table_exists(restricted, "raw.reviews"):
        return pl.DataFrame()
    r = restricted.execute("""
        select address_code, list_date, reviewed_on, listed_office_code as office_code,
               listed_rule_version as rule_version, datediff('day', first_listed_on, reviewed_on) as days_to_review, result,
               list_sort(listed_signal_ids) as listed_signals
        from raw.reviews order by list_date, reviewed_on, _loaded_seq, _source_line""").pl()
    return r.with_columns(child_token=tokens(r["address_code"], token, "child")).select(
        "child_token", "list_date", "reviewed_on", "office_code", "rule_version", "days_to_review", "result",
        "listed_signals")


def month_records(restricted: duckdb.DuckDBPyConnection, ids: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Per child of the night and calendar month, from the departments' records the store holds: school days and
    days absent (欠席) of the school year, check-ups due and attended (効果検証's outcomes, outcomes.md)."""
    r = restricted.execute("""
        with attendance as (
            select p.address_code, strftime(a.school_day, '%Y-%m') as month, count(*) as school_days,
                   count(*) filter (where a.is_absent) as days_absent
            from staging.stg_school__attendance a join intermediate.int_pupils p using (pupil_id)
            where a.school_day <= $as_of
            group by all
        ),
        checkups as (
            select address_code, strftime(scheduled_date, '%Y-%m') as month, count(*) as checkups_due,
                   count(attended_date) filter (where attended_date <= $as_of) as checkups_attended
            from staging.stg_health__checkups
            where scheduled_date <= $as_of
            group by all
        )
        select * from attendance full join checkups using (address_code, month)""", {"as_of": as_of}).pl()
    return r.join(ids.select("address_code", "child_token"), on="address_code", how="inner").select(
        "child_token", "month", "school_days", "days_absent", "checkups_due", "checkups_attended")


def build_outcome_months(con: duckdb.DuckDBPyConnection, records: pl.DataFrame) -> int:
    """outcome_months: one row per child and calendar month ('2026-10': a month, never a day, so that no value
    reads as a date of birth), the outcomes of outcomes.md beside the nights' signals (S1,
    the domain count, on the list) from child_indicators' history, the support start (the 確認日 of the first
    要支援) and the first night on the list. Rebuilt whole each night from what the store holds."""
    reviews = "select child_token, min(reviewed_on) filter (where result = '要支援') as support_start from " \
              "review_outcomes group by 1" if table_exists(con, "main.review_outcomes") else \
              "select null::varchar as child_token, null::date as support_start where false"
    with incoming_transaction(con, records.to_arrow()):
        return con.execute(f"""
            CREATE OR REPLACE TABLE outcome_months AS
            with nights as (
                select child_token, strftime(as_of, '%Y-%m') as month, bool_or(signal_s1) as s1_fired,
                       max(domain_count) as domain_count, bool_or(is_flagged) as on_list, count(*) as nights
                from child_indicators group by all
            ),
            listed as (
                select child_token, min(as_of) as first_listed from child_indicators where is_flagged group by 1
            )
            select child_token, month, r.school_days, r.days_absent,
                   round(1 - r.days_absent / nullif(r.school_days, 0), 4) as attendance_rate,
                   r.checkups_due, r.checkups_attended, n.s1_fired, n.domain_count, n.on_list, n.nights,
                   s.support_start, l.first_listed
            from incoming r full join nights n using (child_token, month)
            left join ({reviews}) s using (child_token)
            left join listed l using (child_token)
            order by child_token, month""").fetchone()[0]


def withdrawn_people(restricted: duckdb.DuckDBPyConnection, token, as_of: date) -> dict[str, list[str]]:
    """Tokens of the people whose history the analysts' store must no longer hold: suspended tonight
    (利用停止), or whose consent was withdrawn by T; with their households' tokens."""
    if not table_exists(restricted, "raw.set_aside_persons"):
        return {"child": [], "household": []}
    jumin = "select address_code, household_code from raw.jumin" + (
        " union all select address_code, household_code from raw.set_aside_jumin"
        if table_exists(restricted, "raw.set_aside_jumin") else "")
    rows = restricted.execute(f"""
        with people as (
            select address_code from raw.set_aside_persons where set_aside_by like 'teishi:%'
            union select address_code from raw.consents where withdrawn_on <= ?
        )
        select p.address_code, any_value(j.household_code)
        from people p left join ({jumin}) j using (address_code) group by 1""", [as_of]).fetchall()
    return {"child": [token("child", c) for c, _ in rows], "household": [token("household", h) for _, h in rows if h]}


def delete_history(con: duckdb.DuckDBPyConnection, people: dict[str, list[str]]) -> dict[str, int]:
    """Their rows in every night of the analysts' tables, deleted (rights.md: suspension of use)."""
    deleted = {}
    for table, column, kind in (("child_indicators", "child_token", "child"), ("child_measures", "child_token", "child"),
                                ("outcome_months", "child_token", "child"),
                                ("household_indicators", "household_token", "household")):
        if people[kind] and table_exists(con, f"main.{table}"):
            deleted[table] = con.execute(f"DELETE FROM {table} WHERE {column} IN (SELECT unnest(?))",
                                         [people[kind]]).fetchone()[0]
    return deleted


@contextmanager
def connect_analysis(home: Path, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    path = analysis_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        yield con
    finally:
        con.close()


def replace_whole(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """A table that is all of its history each night (reviews): replaced in one transaction."""
    with incoming_transaction(con, frame.to_arrow()):
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM incoming")


def publish(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, as_of: date) -> None:
    """Keep history across nights: replace this night's rows, keep the others."""
    with incoming_transaction(con, frame.to_arrow()):
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM incoming WITH NO DATA")
        # a column added by a later version: the earlier nights have it empty
        for name, kind in con.execute("SELECT column_name, column_type FROM (DESCRIBE incoming)").fetchall():
            con.execute(f'ALTER TABLE {table} ADD COLUMN IF NOT EXISTS "{name}" {kind}')
        con.execute(f"DELETE FROM {table} WHERE as_of = ?", [as_of])
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
