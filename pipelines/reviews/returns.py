"""The caseworkers' reviews coming back (../shared/spec/reviews.md): step ② of the pilot's four.

An office returns the list it received, xlsx or CSV (UTF-8 with BOM, or CP932 as Excel saves it), whole
or only the rows it filled, into ``<landing>/returns/``. Each file is read once (by sha256), under the
same rules as a department's extract: a file without the columns 宛名番号, 確認日, 確認結果, 確認者 is
rejected whole; a row with the three input columns blank is not reviewed yet (skipped, counted); any
other row is a review, or quarantined with 行番号 and 理由. Per file, rows read = reviews loaded + rows
skipped + rows quarantined.

A review is stored with what the child's entry on the reviewed list said (its signals, office and rule
version, and since when the child had been listed), so that tonight's models compare tonight's signals
with the reviewed ones without reading the lists' history again.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl

from pipelines.core.store import incoming_transaction, table_exists
from pipelines.ingest.extracts import (
    BOM,
    LINE,
    ExtractFile,
    ExtractRejected,
    ReadResult,
    ValidatedExtract,
    decode,
    validate,
)
from pipelines.ingest.cells import cell_text
from pipelines.ingest.normalize import parse_date
from pipelines.matching.review import REVIEW_FILE_PREFIX
from schemas.contract import RETURNS, REVIEW_INPUTS
from schemas.reviews import returns as returns_schema

RETURNS_FOLDER = "returns"
EXPORT_NAME = re.compile(r"^見守りリスト_(?P<office>[^_]+)_(?P<name>.+)_(?P<date>\d{8})$")
TABLE = "raw.reviews"
SHEET = "見守りリスト"


@dataclass(frozen=True)
class ReturnFile:
    path: Path
    office_code: str | None  # from the export's own name; None for a file named otherwise
    list_date: date | None

    @property
    def name(self) -> str:
        return self.path.name


def return_files(landing: Path) -> list[ReturnFile]:
    """Every .xlsx and .csv in <landing>/returns/, in the order they arrived (then by name)."""
    folder = Path(landing) / RETURNS_FOLDER
    if not folder.is_dir():
        return []
    paths = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".xlsx", ".csv")
             and not p.name.startswith(("~$", ".", REVIEW_FILE_PREFIX))]  # Excel's lock files, hidden files,
    # the data team's linkage reviews (pipelines/matching/review.py reads those)
    files = []
    for path in sorted(paths, key=lambda p: (p.stat().st_mtime_ns, p.name)):
        m = EXPORT_NAME.match(path.stem)
        try:
            stamp = datetime.strptime(m["date"], "%Y%m%d").date() if m else None
        except ValueError:
            stamp = None
        files.append(ReturnFile(path, m["office"] if m else None, stamp))
    return files


def _read_csv(file: ReturnFile, data: bytes) -> ReadResult:
    """A returned CSV: the list as exported (UTF-8 with BOM) or as Excel saves it (CP932). Unlike a
    department's extract, a quoted field may hold line breaks (該当理由 does), so records are read with
    the csv module and numbered as a spreadsheet shows them: the header is row 1."""
    import csv

    if not data.strip(BOM + b" \r\n\t"):
        raise ExtractRejected(file.path, 1, "ファイルが空です（ヘッダー行がありません）")
    encoding, text = decode(file.path, data)
    records = csv.reader(io.StringIO(text.decode("utf-8"), newline=""))
    header = [h.strip(" \u3000\t") for h in next(records, [])]
    _check_header(file.path, header)
    return _as_read(file, data, encoding, header, enumerate(records, start=2))


def _as_read(file: ReturnFile, data: bytes, encoding: str, header: list[str], rows) -> ReadResult:
    """Numbered rows of cells (text) as a ReadResult in the returns' columns; blank rows are not rows."""
    keep = [c.japanese for c in RETURNS.columns]
    records, blank = [], 0
    for number, row in rows:
        cells = dict(zip(header, row))
        if not any(v is not None and str(v).strip(" \u3000\t") for v in cells.values()):
            blank += 1
            continue
        records.append({LINE: number, **{c: cells.get(c) for c in keep}})
    raw = pl.DataFrame(records, schema={LINE: pl.Int64, **{c: pl.String for c in keep}})
    return ReadResult(ExtractFile(file.path, RETURNS.name, file.list_date), encoding, hashlib.sha256(data).hexdigest(),
                      len(data), raw, pl.DataFrame(schema={LINE: pl.Int64, "problem": pl.String}),
                      [h for h in header if h and h not in RETURNS.headers], blank)


def _read_xlsx(file: ReturnFile, data: bytes) -> ReadResult:
    import zipfile

    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as e:
        raise ExtractRejected(file.path, None, f"xlsx として開けません（{type(e).__name__}）") from None
    sheet = book[SHEET] if SHEET in book.sheetnames else book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = [(cell_text(v) or "").strip(" \u3000") for v in next(rows, ())]
    _check_header(file.path, header)
    read = _as_read(file, data, "xlsx", header,
                    ((number, [cell_text(v) for v in row]) for number, row in enumerate(rows, start=2)))
    book.close()
    return read


def _check_header(path: Path, header: list[str]) -> None:
    missing = [c for c in RETURNS.required_headers if c not in header]
    if missing:
        raise ExtractRejected(path, 1, f"必須列がありません: {', '.join(missing)}")


def read_return(file: ReturnFile) -> ReadResult:
    """The file's rows as text in the returns' columns, 判定基準日 filled from the file name where blank."""
    data = file.path.read_bytes()
    read = _read_xlsx(file, data) if file.path.suffix.lower() == ".xlsx" else _read_csv(file, data)
    if file.list_date:
        read.raw = read.raw.with_columns(pl.coalesce(pl.col("判定基準日").str.strip_chars(" \u3000").replace("", None),
                                                     pl.lit(file.list_date.isoformat())).alias("判定基準日"))
    return read


@dataclass
class ReturnResult:
    validated: ValidatedExtract
    skipped: int  # rows with the three input columns blank: not reviewed yet

    @property
    def rows_read(self) -> int:
        return self.validated.read.rows_read + self.skipped

    def reconciles(self) -> bool:
        return self.rows_read == self.validated.rows_loaded + self.skipped + self.validated.rows_quarantined


def validate_return(read: ReadResult, as_of: date, listed: set[str]) -> ReturnResult:
    """Skip the rows not reviewed yet, quarantine the half-filled ones, then pandera on the rest."""
    filled = read.raw.select(LINE, n=pl.sum_horizontal(
        pl.col(c).str.strip_chars(" \u3000").replace("", None).is_not_null() for c in REVIEW_INPUTS))
    skipped = filled.filter(pl.col("n") == 0)[LINE]
    partial = filled.filter(pl.col("n").is_between(1, 2)).select(
        LINE, problem=pl.lit("確認日・確認結果・確認者の一部だけが記入されています（3つとも記入してください）"))
    read = replace(read, raw=read.raw.filter(~pl.col(LINE).is_in(skipped.implode())),
                   shape_problems=pl.concat([read.shape_problems, partial]))
    validated = validate(read, as_of, RETURNS, returns_schema(as_of, listed))
    return ReturnResult(validated, skipped.len())


def read_list_dates(read: ReadResult) -> list[date]:
    """The 判定基準日 the file's rows name (to look up only those lists)."""
    return read.raw.select(parse_date(pl.col("判定基準日")).unique().drop_nulls()).to_series().to_list()


def listed_keys(con: duckdb.DuckDBPyConnection, list_dates: list[date]) -> set[str]:
    """"宛名番号|判定基準日" of every child on the lists of these dates (any office)."""
    if not list_dates or not table_exists(con, "marts.flag_list_history"):
        return set()
    rows = con.execute("select address_code || '|' || strftime(as_of, '%Y-%m-%d') from marts.flag_list_history "
                       "where as_of in (select unnest(?))", [list_dates]).fetchall()
    return {r[0] for r in rows}


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute(f"""CREATE TABLE IF NOT EXISTS {TABLE} (
        address_code VARCHAR, list_date DATE, reviewed_on DATE, result VARCHAR, reviewer VARCHAR,
        listed_signal_ids VARCHAR[], listed_office_code VARCHAR, listed_rule_version VARCHAR,
        first_listed_on DATE, file_office_code VARCHAR, _source_file VARCHAR, _source_line BIGINT,
        _file_sha256 VARCHAR, _loaded_seq BIGINT, _loaded_as_of DATE)""")


def load_reviews(con: duckdb.DuckDBPyConnection, result: ReturnResult, file: ReturnFile, as_of: date,
                 before_commit=lambda: None) -> None:
    """The file's reviews, with what the reviewed list said of each child, in one transaction."""
    valid = result.validated.valid.rename({LINE: "_source_line"})
    if valid.is_empty():  # nothing to insert (and perhaps no list made yet to look up)
        con.execute("BEGIN")
        before_commit()
        con.execute("COMMIT")
        return
    with incoming_transaction(con, valid.to_arrow()):
        seq = con.execute(f"select coalesce(max(_loaded_seq), 0) + 1 from {TABLE}").fetchone()[0]
        # (a home's first night after an upgrade may have lists but not their runs yet)
        runs = "marts.listing_runs" if table_exists(con, "marts.listing_runs") else \
            "(SELECT NULL::VARCHAR AS address_code, NULL::DATE AS listed_from, NULL::DATE AS listed_until)"
        con.execute(f"""
            INSERT INTO {TABLE}
            SELECT i.address_code, i.list_date, i.reviewed_on, i.result, i.reviewer,
                   h.signal_ids, h.office_code, h.rule_version, r.listed_from, ?, ?, i._source_line, ?, ?, ?
            FROM incoming i
            LEFT JOIN marts.flag_list_history h ON h.address_code = i.address_code AND h.as_of = i.list_date
            LEFT JOIN {runs} r
                ON r.address_code = i.address_code AND i.list_date BETWEEN r.listed_from AND r.listed_until""",
                    [file.office_code, file.name, result.validated.read.sha256, seq, as_of])
        before_commit()


def loaded_files(con: duckdb.DuckDBPyConnection) -> set[str]:
    """sha256 of every returned file read before (loaded or rejected): a file is read once."""
    if not table_exists(con, "raw.load_log"):
        return set()
    return {r[0] for r in con.execute("select sha256 from raw.load_log where extract = ?", [RETURNS.name]).fetchall()}


# ------------------------------------------------------------------------------------------ for the report


def timeliness(con: duckdb.DuckDBPyConnection, as_of: date, due_days: int) -> pl.DataFrame:
    """Per office: runs of listings whose review fell due by T, how many were reviewed in time (a review
    of a list of that run, dated within due_days of its first night), and tonight's queue."""
    if not table_exists(con, "marts.listing_runs") or not table_exists(con, TABLE):
        return pl.DataFrame()
    return con.execute(f"""
        with due as (
            select r.*, r.listed_from + interval ({int(due_days)}) day as due_on
            from marts.listing_runs r
            where r.listed_from + interval ({int(due_days)}) day <= ?
        ),
        judged as (
            select d.office_code, d.address_code, d.listed_from,
                   bool_or(v.reviewed_on <= d.due_on) as in_time
            from due d
            left join {TABLE} v on v.address_code = d.address_code
                and v.list_date between d.listed_from and d.listed_until
            group by all
        ),
        queue as (
            select office_code, count(awaiting_since) as awaiting, count(*) filter (where is_overdue) as overdue
            from marts.review_queue where as_of = ? group by office_code
        )
        select coalesce(j.office_code, q.office_code) as office_code,
               count(j.address_code) as due_so_far, count(*) filter (where j.in_time) as reviewed_in_time,
               any_value(coalesce(q.awaiting, 0)) as awaiting_tonight, any_value(coalesce(q.overdue, 0)) as overdue_tonight
        from judged j full join queue q using (office_code)
        group by 1 order by 1""", [as_of, as_of]).pl()


def outcomes_by_signals(con: duckdb.DuckDBPyConnection, threshold: int) -> pl.DataFrame:
    """Per combination of signals on the reviewed list: reviews, and how many judged 要支援 (the latest
    review per child and list). Counts under ``threshold`` are suppressed (None), as everywhere."""
    if not table_exists(con, TABLE):
        return pl.DataFrame()
    frame = con.execute(f"""
        with latest as (
            select *, row_number() over (partition by address_code, list_date
                                         order by reviewed_on desc, _loaded_seq desc) as recency
            from {TABLE} where listed_signal_ids is not null
        )
        select array_to_string(list_sort(listed_signal_ids), '+') as signals, count(*) as reviews,
               count(*) filter (where result = '要支援') as needs_support
        from latest where recency = 1 group by 1 order by reviews desc, signals""").pl()
    small = pl.col("reviews") < threshold
    return frame.with_columns(
        reviews=pl.when(small).then(None).otherwise(pl.col("reviews")),
        needs_support=pl.when(small | pl.col("needs_support").is_between(1, threshold - 1)).then(None)
        .otherwise(pl.col("needs_support")))
