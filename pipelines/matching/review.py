"""The data team's review of uncertain links (照合確認): the night's xlsx, and the decisions read back.

The file puts the centre's record beside the candidate resident, with each comparison's contribution to
the match weight, and three columns to fill: 判定 (同一 / 別人, a drop-down), 確認日, 確認者. Returned into
<landing>/returns/ it is read like an extract: unfilled rows skipped, half-filled ones and bad values
quarantined with 行番号 and 理由, the rest kept in raw.jisou_link_decisions. A 同一 holds while neither
record changes (the pair's 照合キー); a 別人 holds for good.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import xlsxwriter

from pipelines.core.store import incoming_transaction, table_exists
from pipelines.ingest.cells import cell_text
from pipelines.ingest.extracts import LINE, ExtractFile, ReadResult, ValidatedExtract, validate
from pipelines.matching.model import COMPARED
from schemas.contract import LINKAGE_INPUTS, LINKAGE_RETURNS
from schemas.reviews import linkage_returns

REVIEW_FILE_PREFIX = "照合確認_"
SHEET = "照合確認"
DECISIONS_TABLE = "raw.jisou_link_decisions"
LINKS_TABLE = "raw.jisou_links"
COMPARISON_NAMES = {"name": "氏名", "birth_date": "生年月日", "sex": "性別", "address": "住所", "guardian": "保護者"}
SEX = {"1": "男", "2": "女"}
# (header, width) of the file: the centre's record, the resident, the explanation, then what the team fills
LAYOUT = [("児相ケース番号", 13), ("照合確率", 8), ("児相: 氏名", 12), ("児相: 氏名カナ", 14), ("児相: 生年月日", 11),
          ("児相: 性別", 5), ("児相: 住所", 22), ("児相: 保護者氏名", 12), ("宛名番号", 16), ("住民: 氏名", 12),
          ("住民: 氏名カナ", 14), ("住民: 生年月日", 11), ("住民: 性別", 5), ("住民: 住所", 22), ("住民: 世帯の大人", 14),
          ("照合の内訳（重み）", 36), ("判定", 7), ("確認日", 11), ("確認者", 9), ("照合キー", 12)]


def review_file(folder: Path, as_of: date) -> Path:
    return folder / f"{REVIEW_FILE_PREFIX}{as_of:%Y%m%d}.xlsx"


def review_rows(con: duckdb.DuckDBPyConnection, links: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The review band's pairs with both records as written (raw.jisou, raw.jumin) and the household's adults."""
    review = links.filter(pl.col("band") == "review").select("case_number", "address_code", "match_probability",
                                                              "match_weight", "runner_up_weight", "explanation",
                                                              "pair_hash")
    if review.is_empty():
        return review
    with_records = con.execute("""
        SELECT r.case_number, r.match_probability, r.match_weight, r.runner_up_weight, r.explanation, r.pair_hash,
               j.full_name AS c_name, j.full_name_kana AS c_kana, j.birth_date AS c_birth, j.sex AS c_sex,
               j.address AS c_address, j.guardian_name AS c_guardian,
               p.address_code, p.full_name AS p_name, p.full_name_kana AS p_kana, p.birth_date AS p_birth,
               p.sex AS p_sex, p.address AS p_address,
               (SELECT string_agg(a.full_name, '、' ORDER BY a.birth_date) FROM raw.jumin a
                 WHERE a.household_code = p.household_code AND a.birth_date <= ?::DATE - INTERVAL 18 YEAR)
                   AS p_adults
        FROM review r JOIN raw.jisou j USING (case_number) JOIN raw.jumin p ON p.address_code = r.address_code
        ORDER BY r.match_probability DESC, r.case_number""", [as_of]).pl()
    return with_records


def _explained(row: dict) -> str:
    """Each comparison's level and weight; and, when another resident came near, by how much (a twin, a
    child of the same name): the reason a likely pair is still put to a person."""
    parts = json.loads(row["explanation"])
    lines = [f"{COMPARISON_NAMES[c]}: {parts[c][0]}（{parts[c][1]:+.1f}）" for c in COMPARED if c in parts]
    if row.get("runner_up_weight") is not None:
        lines.append(f"次点の候補あり: 重みの差 {row['match_weight'] - row['runner_up_weight']:.1f}")
    return "\n".join(lines)


def write_review_xlsx(rows: pl.DataFrame, path: Path, as_of: date) -> None:
    """Landscape A4, a page wide, header repeated, 判定 as a drop-down: printable like the caseworkers' list."""
    path.parent.mkdir(parents=True, exist_ok=True)
    book = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
    sheet = book.add_worksheet(SHEET)
    head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "top"})
    cell = book.add_format({"border": 1, "text_wrap": True, "valign": "top", "num_format": "@"})
    fill = book.add_format({"border": 1, "valign": "top", "bg_color": "#FFF2CC", "num_format": "@"})
    day = book.add_format({"border": 1, "valign": "top", "bg_color": "#FFF2CC", "num_format": "yyyy-mm-dd"})
    for i, (title, width) in enumerate(LAYOUT):
        sheet.set_column(i, i, width)
        sheet.write(0, i, title, head)
    sheet.set_column(len(LAYOUT) - 1, len(LAYOUT) - 1, 12, None, {"hidden": True})  # 照合キー: for reading back
    for r, row in enumerate(rows.iter_rows(named=True), start=1):
        values = [row["case_number"], f"{row['match_probability']:.1%}", row["c_name"], row["c_kana"] or "",
                  str(row["c_birth"]), SEX.get(row["c_sex"], row["c_sex"]), row["c_address"] or "",
                  row["c_guardian"] or "", row["address_code"], row["p_name"], row["p_kana"] or "", str(row["p_birth"]),
                  SEX.get(row["p_sex"], row["p_sex"]), row["p_address"], row["p_adults"] or "",
                  _explained(row)]
        for c, v in enumerate(values):
            sheet.write_string(r, c, v, cell)
        sheet.write_blank(r, len(values), None, fill)
        sheet.write_blank(r, len(values) + 1, None, day)
        sheet.write_blank(r, len(values) + 2, None, fill)
        sheet.write_string(r, len(values) + 3, row["pair_hash"], cell)
        sheet.set_row(r, 15 * (7.2 if row.get("runner_up_weight") is not None else 6.0))  # the explanation's lines
    n = rows.height
    if n:
        decision = LAYOUT.index(("判定", 7))
        sheet.data_validation(1, decision, n, decision, {
            "validate": "list", "source": ["同一", "別人"], "error_title": "判定",
            "error_message": "同一 か 別人 を選んでください"})
        sheet.data_validation(1, decision + 1, n, decision + 1, {
            "validate": "date", "criteria": "<=", "value": as_of.isoformat(), "error_title": "確認日",
            "error_message": "日付（この夜まで）を入力してください"})
    sheet.freeze_panes(1, 2)
    sheet.autofilter(0, 0, max(n, 1), len(LAYOUT) - 1)
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(0)
    sheet.set_header(f"&L照合確認（児童相談所の記録と住民記録） {as_of}&R取扱注意・要保護児童対策地域協議会の協定に基づく")
    sheet.set_footer("&C&P / &N")
    book.close()


# ----------------------------------------------------------------------------------------------- returns


@dataclass
class DecisionFile:
    path: Path
    validated: ValidatedExtract | None
    skipped: int  # rows not judged yet
    rejected: str | None = None


def decision_files(landing: Path) -> list[Path]:
    folder = Path(landing) / "returns"
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.glob(f"{REVIEW_FILE_PREFIX}*.xlsx") if p.is_file()),
                  key=lambda p: (p.stat().st_mtime_ns, p.name))


def read_decisions(path: Path, as_of: date) -> DecisionFile:
    """One returned review file, validated: a file that is not a review file is rejected whole."""
    import zipfile

    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    data = path.read_bytes()
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as e:
        return DecisionFile(path, None, 0, f"xlsx として開けません（{type(e).__name__}）")
    sheet = book[SHEET] if SHEET in book.sheetnames else book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = [(cell_text(v) or "").strip(" \u3000") for v in next(rows, ())]
    missing = [c for c in ("児相ケース番号", "宛名番号", *LINKAGE_INPUTS, "照合キー") if c not in header]
    if missing:
        book.close()
        return DecisionFile(path, None, 0, f"必須列がありません: {', '.join(missing)}")
    keep = [c.japanese for c in LINKAGE_RETURNS.columns]
    records = [{LINE: n, **{c: cell_text(dict(zip(header, row)).get(c)) for c in keep}}
               for n, row in enumerate(rows, start=2) if any(v not in (None, "") for v in row)]
    book.close()
    raw = pl.DataFrame(records, schema={LINE: pl.Int64, **{c: pl.String for c in keep}})
    filled = raw.select(LINE, n=pl.sum_horizontal(
        pl.col(c).str.strip_chars(" \u3000").replace("", None).is_not_null() for c in LINKAGE_INPUTS))
    skipped = filled.filter(pl.col("n") == 0)[LINE]
    partial = filled.filter(pl.col("n").is_between(1, 2)).select(
        LINE, problem=pl.lit("判定・確認日・確認者の一部だけが記入されています（3つとも記入してください）"))
    read = ReadResult(ExtractFile(path, LINKAGE_RETURNS.name, as_of), "xlsx", hashlib.sha256(data).hexdigest(),
                      len(data), raw.filter(~pl.col(LINE).is_in(skipped.implode())), partial,
                      [h for h in header if h and h not in {t for t, _ in LAYOUT}], 0)
    validated = validate(read, as_of, LINKAGE_RETURNS, linkage_returns(as_of))
    return DecisionFile(path, validated, skipped.len())


def ensure_decisions(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute(f"""CREATE TABLE IF NOT EXISTS {DECISIONS_TABLE} (
        case_number VARCHAR, address_code VARCHAR, decision VARCHAR, reviewed_on DATE, reviewer VARCHAR,
        pair_hash VARCHAR, _source_file VARCHAR, _source_line BIGINT, _file_sha256 VARCHAR, _loaded_as_of DATE)""")


def files_read(con: duckdb.DuckDBPyConnection) -> set[str]:
    if not table_exists(con, DECISIONS_TABLE):
        return set()
    return {r[0] for r in con.execute(f"SELECT DISTINCT _file_sha256 FROM {DECISIONS_TABLE}").fetchall()}


def load_decisions(con: duckdb.DuckDBPyConnection, result: DecisionFile, as_of: date) -> None:
    valid = result.validated.valid.rename({LINE: "_source_line"})
    ensure_decisions(con)
    if valid.is_empty():  # a file read with nothing decided: remembered so that it is not read again
        con.execute(f"INSERT INTO {DECISIONS_TABLE} (_source_file, _file_sha256, _loaded_as_of) VALUES (?, ?, ?)",
                    [result.path.name, result.validated.read.sha256, as_of])
        return
    with incoming_transaction(con, valid.to_arrow()):
        con.execute(f"""INSERT INTO {DECISIONS_TABLE}
            SELECT case_number, address_code, decision, reviewed_on, reviewer, pair_hash, ?, _source_line, ?, ?
            FROM incoming""", [result.path.name, result.validated.read.sha256, as_of])


def current_decisions(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The newest decision per pair (by 確認日, then as loaded)."""
    if not table_exists(con, DECISIONS_TABLE):
        return pl.DataFrame(schema={"case_number": pl.String, "address_code": pl.String, "decision": pl.String,
                                    "pair_hash": pl.String})
    return con.execute(f"""
        SELECT case_number, address_code, decision, pair_hash FROM {DECISIONS_TABLE}
        WHERE decision IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY case_number, address_code
                                   ORDER BY reviewed_on DESC, _loaded_as_of DESC, _source_line DESC) = 1""").pl()


def ensure_links_table(con: duckdb.DuckDBPyConnection) -> None:
    """raw.jisou_links as the dbt models read it, empty (no list loaded yet, or a store built for tests)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute(f"CREATE TABLE IF NOT EXISTS {LINKS_TABLE} (case_number VARCHAR, band VARCHAR, "
                "address_code VARCHAR, match_probability DOUBLE, match_weight DOUBLE, method VARCHAR, "
                "explanation VARCHAR, runner_up_weight DOUBLE, pair_hash VARCHAR, as_of DATE, model_version VARCHAR)")
