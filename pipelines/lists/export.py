"""The caseworkers' lists (活用主体): one CSV (UTF-8 with BOM) and one .xlsx per support office and run.

Exactly the columns of flag-rules.md, in its order, and nothing more; each office gets only its own
children. A second sheet (判定情報) states the run's facts, including any source that was stale or rejected,
in plain Japanese. The folder of a night is written aside and swapped in whole, so a failed run never
leaves half-written files and the previous night's lists stay readable.
"""

from __future__ import annotations

import csv
import hashlib
import math
import shutil
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

import duckdb
import polars as pl
import xlsxwriter

from pipelines.core.failpoints import failpoint
from pipelines.ingest.sources import source_facts
from schemas.contract import REVIEW_INPUTS, REVIEW_RESULTS

EXPORT_COLUMNS = ["宛名番号", "氏名", "氏名カナ", "生年月日", "年齢", "性別", "住所", "学校名", "学年", "該当領域数",
                  "該当領域", "該当理由", "支援状況", "前回比", "判定基準日", "ルール版",
                  "前回確認日", "前回確認結果", "確認後の新規該当", *REVIEW_INPUTS]
SEX = {1: "男", 2: "女"}
NOTICE = ("このリストは1次スクリーニングの補助です。支援の要否は専門職によるアセスメントで判断してください。"
          "子どもや学校の順位付けには使わないでください。")


@dataclass(frozen=True)
class Office:
    code: str
    name: str

    def file_stem(self, as_of: date) -> str:
        return f"見守りリスト_{self.code}_{self.name}_{as_of:%Y%m%d}"


@dataclass
class ExportFile:
    office: Office
    path: Path
    rows: int
    sha256: str


def offices(cfg: dict) -> list[Office]:
    """Every configured office and the default office: each gets a file, even an empty one."""
    listed = [Office(str(o["code"]), o["name"]) for o in cfg.get("offices", [])]
    default = Office(str(cfg["default_office"]["code"]), cfg["default_office"]["name"])
    return listed + ([default] if default.code not in {o.code for o in listed} else [])


def flag_list(con: duckdb.DuckDBPyConnection, as_of: date) -> pl.DataFrame:
    """Tonight's list in the export's columns (Japanese), with the office code for splitting."""
    return con.execute("""
        select
            office_code,
            address_code as 宛名番号,
            full_name as 氏名,
            full_name_kana as 氏名カナ,
            strftime(birth_date, '%Y-%m-%d') as 生年月日,
            age as 年齢,
            case sex when 1 then '男' when 2 then '女' end as 性別,
            address as 住所,
            school_name as 学校名,
            grade as 学年,
            domain_count as 該当領域数,
            domains as 該当領域,
            reasons as 該当理由,
            support_status as 支援状況,
            change_since_previous as 前回比,
            strftime(as_of, '%Y-%m-%d') as 判定基準日,
            rule_version as ルール版,
            strftime(last_reviewed_on, '%Y-%m-%d') as 前回確認日,
            last_review_result as 前回確認結果,
            nullif(signals_since_review_text, '') as 確認後の新規該当,
            null::varchar as 確認日,
            null::varchar as 確認結果,
            null::varchar as 確認者
        from marts.flagged_children
        where as_of = ?
        order by list_order
    """, [as_of]).pl()


@dataclass(frozen=True)
class ReviewCounts:
    left_off: int  # flagged by the rules, left off because a review cleared them
    overdue: int  # listed, awaiting a review longer than review.due_days
    awaiting: int


def review_counts(con: duckdb.DuckDBPyConnection, as_of: date, office: Office) -> ReviewCounts:
    left_off = con.execute("select count(*) from marts.reviews_left_off where as_of = ? and office_code = ?",
                           [as_of, office.code]).fetchone()[0]
    overdue, awaiting = con.execute(
        "select count(*) filter (where is_overdue), count(awaiting_since) from marts.review_queue "
        "where as_of = ? and office_code = ?", [as_of, office.code]).fetchone()
    return ReviewCounts(left_off, overdue, awaiting)


def guidance_note(rules: dict) -> str:
    """How C4 is given, in the caseworkers' words: the centre's records carry no 宛名番号 (linkage.md)."""
    c4, link = rules["signals"]["C4"], rules["linkage"]
    others = [t for t in ("虐待相談", "養護相談", "一時保護", "非行相談", "育成相談", "障害相談") if t not in c4["case_types"]]
    return (f"児童相談所の名簿には宛名番号がないため、氏名・カナ・生年月日・性別・住所・保護者名で住民記録と照合しています"
            f"（照合: 自動 は一致の確率{link['link_probability']:.0%}以上で他に近い候補がないもの、確認済 はデータ担当が"
            f"確認したもの）。{'・'.join(c4['case_types'])}の事例が継続中、または終結から{c4['within_days']}日以内の"
            f"児童に付けます。{'・'.join(others)}は該当としません。")


def fact_rows(office: Office, rows: pl.DataFrame, facts: list[dict], rules: dict, as_of: date,
              reviews: ReviewCounts) -> list[tuple]:
    """The 判定情報 sheet: the run's facts in plain Japanese; counts only, no child's identity."""
    change = {k: rows.filter(pl.col("前回比") == k).height for k in ("新規", "継続", "再掲")}
    review = rules["review"]
    out = [("判定基準日", as_of.isoformat()), ("ルール版", f"{rules['version']}（{rules['name']}）"),
           ("判定条件", f"{rules['min_domains']}領域以上で該当"), ("支援拠点", f"{office.code} {office.name}"),
           ("該当児童数", f"{rows.height}人（新規 {change['新規']}人、継続 {change['継続']}人、再掲 {change['再掲']}人）"),
           ("確認により除外", f"{reviews.left_off}人（確認結果が支援不要・対象外で{review['valid_days']}日以内、"
                             "その後に新たな該当がない児童はリストに載せていません）"),
           ("確認待ち", f"{reviews.awaiting}人（うち期限超過 {reviews.overdue}人: リストに載ってから"
                       f"{review['due_days']}日を過ぎても確認結果が届いていない児童）"),
           ("記入のお願い", "確認した児童について、確認日・確認結果・確認者（職員コード）の3列を記入して返送してください。"
                         "空欄の行は未確認として扱います。")]
    if "C4" in rules["signals"]:
        out.append(("児相関与（C4）", guidance_note(rules)))
    if rows.height == 0:
        out.append(("", "今回、この支援拠点で該当した児童はいません（処理は正常に完了しています）。"))
    for f in facts:  # a department without any data: say first what the list could not see
        if f["not_judged"]:
            out.append(("判定していない項目", f["not_judged"] + "。"))
    out.append(("", ""))
    out.append(("使用したデータ", "ファイル（抽出日）"))
    for f in facts:
        text = f"{f['file_in_use'] or 'なし'}（{f['extracted_on'] or '-'}）"
        if f["rejected"]:
            text += f" ※ 今夜のファイル {f['newest_file']} は読み込めませんでした（{f['rejected']}）。"
            text += "使えるデータはありません。" if f["not_judged"] else "それ以前の正しく読めたデータを使用しています。"
        elif f["not_judged"]:
            text += " ※ 使えるファイルがありません。"
        elif f["stale"]:
            text += f" ※ 最新のファイル（{f['newest_file'] or 'なし'}）ではありません。"
        out.append((f["department"], text))
    out += [("", ""), ("注意", NOTICE)]
    return out


def write_csv(rows: pl.DataFrame, path: Path) -> None:
    """UTF-8 with BOM so that Excel opens it in Japanese; CRLF; every field as text the caseworker reads."""
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(EXPORT_COLUMNS)
        for row in rows.select(EXPORT_COLUMNS).iter_rows():
            writer.writerow(["" if v is None else v for v in row])


# Column widths in characters; printed landscape on A4 and fitted to one page wide (about 250 characters).
WIDTHS = {"宛名番号": 16, "氏名": 12, "氏名カナ": 13, "生年月日": 10.5, "年齢": 4, "性別": 4, "住所": 20, "学校名": 16,
          "学年": 4, "該当領域数": 6, "該当領域": 10, "該当理由": 46, "支援状況": 7, "前回比": 6, "判定基準日": 10.5,
          "ルール版": 14, "前回確認日": 10.5, "前回確認結果": 8, "確認後の新規該当": 16, "確認日": 11, "確認結果": 9,
          "確認者": 8}
WRAPPED = {"該当理由", "住所", "学校名", "該当領域", "確認後の新規該当", "ルール版"}
LINE_POINTS = 15  # one line of the default 11-point font


def _lines(text: str, width: float) -> int:
    """How many lines a wrapped cell takes: a kana or kanji is as wide as two digits."""
    lines = 0
    for part in text.split("\n"):
        units = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in part)
        lines += max(1, math.ceil(units / max(width - 1, 1)))
    return lines


def row_height(row: dict) -> float:
    """Rows do not grow by themselves in every spreadsheet (LibreOffice keeps the stored height): a row as
    tall as its longest wrapped cell, so that a printed list shows every reason."""
    lines = max([_lines(str(row[c]), WIDTHS[c]) for c in WRAPPED if row.get(c)] or [1])
    return lines * LINE_POINTS
INPUT_FILL = "#FFF2CC"  # the three columns a caseworker fills stand out


def write_xlsx(rows: pl.DataFrame, facts: list[tuple], path: Path, as_of: date, office: Office) -> None:
    workbook = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_urls": False})
    # dated by the list, not by the clock: the same night written twice is the same bytes
    workbook.set_properties({"created": datetime.combine(as_of, time())})
    header = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                                  "valign": "vcenter"})
    input_header = workbook.add_format({"bold": True, "bg_color": "#FFD966", "border": 1, "text_wrap": True,
                                        "valign": "vcenter"})
    text = workbook.add_format({"valign": "top", "num_format": "@"})
    wrap = workbook.add_format({"valign": "top", "text_wrap": True})
    inputs = {"確認日": workbook.add_format({"valign": "top", "bg_color": INPUT_FILL, "border": 1,
                                            "num_format": "yyyy-mm-dd"}),
              "確認結果": workbook.add_format({"valign": "top", "bg_color": INPUT_FILL, "border": 1}),
              "確認者": workbook.add_format({"valign": "top", "bg_color": INPUT_FILL, "border": 1, "num_format": "@"})}
    sheet = workbook.add_worksheet("見守りリスト")
    sheet.freeze_panes(1, 0)
    sheet.set_row(0, 2 * LINE_POINTS)  # the longer headers take two lines
    for c, name in enumerate(EXPORT_COLUMNS):
        sheet.write_string(0, c, name, input_header if name in inputs else header)
        sheet.set_column(c, c, WIDTHS[name], inputs.get(name) or (wrap if name in WRAPPED else text))
    for r, row in enumerate(rows.select(EXPORT_COLUMNS).iter_rows(), start=1):
        sheet.set_row(r, row_height(dict(zip(EXPORT_COLUMNS, row))))
        for c, value in enumerate(row):
            name = EXPORT_COLUMNS[c]
            if name in inputs:
                sheet.write_blank(r, c, None, inputs[name])
            elif value is None:
                continue
            elif isinstance(value, int):
                sheet.write_number(r, c, value)
            else:
                sheet.write_string(r, c, str(value), wrap if name in WRAPPED else text)
    if rows.height:
        sheet.autofilter(0, 0, rows.height, len(EXPORT_COLUMNS) - 1)
        _review_inputs(sheet, rows.height, as_of)
    _print_setup(sheet, office, as_of)
    info = workbook.add_worksheet("判定情報")
    info.set_column(0, 0, 16)
    info.set_column(1, 1, 100, wrap)
    for r, (k, v) in enumerate(facts):
        info.write_string(r, 0, k, header if k else text)
        info.write_string(r, 1, v, wrap)
    workbook.close()


def _review_inputs(sheet, rows: int, as_of: date) -> None:
    """確認結果 a drop-down of the five codes; 確認日 a date on or after the list's date."""
    column = {name: EXPORT_COLUMNS.index(name) for name in REVIEW_INPUTS}
    sheet.data_validation(1, column["確認結果"], rows, column["確認結果"], {
        "validate": "list", "source": list(REVIEW_RESULTS), "input_title": "確認結果",
        "input_message": "要支援・見守り・支援不要・支援中・対象外から選んでください",
        "error_title": "確認結果", "error_message": "要支援・見守り・支援不要・支援中・対象外のいずれかです"})
    sheet.data_validation(1, column["確認日"], rows, column["確認日"], {
        "validate": "date", "criteria": ">=", "value": datetime.combine(as_of, time()), "input_title": "確認日",
        "input_message": f"確認した日（{as_of} 以降）", "error_title": "確認日",
        "error_message": f"日付を {as_of} 以降で入れてください"})
    sheet.data_validation(1, column["確認者"], rows, column["確認者"], {
        "validate": "length", "criteria": "between", "minimum": 1, "maximum": 10, "input_title": "確認者",
        "input_message": "職員コード（半角英数字1〜10文字、氏名は書かないでください）",
        "error_title": "確認者", "error_message": "職員コードは半角英数字1〜10文字です"})


def _print_setup(sheet, office: Office, as_of: date) -> None:
    """Printed for case meetings: landscape, one page wide, the header row on every page, the office,
    the list's date and 取扱注意 in the page header, page numbers in the footer."""
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.set_margins(left=0.4, right=0.4, top=0.7, bottom=0.6)
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(0)
    sheet.set_header(f"&L{office.code} {office.name}&C判定基準日 {as_of}&R取扱注意（個人情報）", {"margin": 0.3})
    sheet.set_footer("&C&P / &N ページ", {"margin": 0.3})


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_exports(con: duckdb.DuckDBPyConnection, final: Path, landing: Path, as_of: date,
                  rules: dict, offices_cfg: dict, run_id: str) -> list[ExportFile]:
    """Write every office's files for T into a new folder, then swap it in for ``final`` (HOME/exports/<T>)."""
    recover(final.parent)
    staging = final.with_name(f".{final.name}.{run_id}.tmp")
    staging.mkdir(parents=True)
    try:
        rows = flag_list(con, as_of)
        facts = source_facts(con, landing, as_of, rules)
        written = []
        for office in offices(offices_cfg):
            mine = rows.filter(pl.col("office_code") == office.code)
            csv_path = staging / f"{office.file_stem(as_of)}.csv"
            xlsx_path = staging / f"{office.file_stem(as_of)}.xlsx"
            write_csv(mine, csv_path)
            write_xlsx(mine, fact_rows(office, mine, facts, rules, as_of, review_counts(con, as_of, office)),
                       xlsx_path, as_of, office)
            written += [ExportFile(office, final / p.name, mine.height, sha256(p)) for p in (csv_path, xlsx_path)]
        _swap_in(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone after the swap; on failure, nothing half-written stays
    return written


def _swap_in(staging: Path, final: Path) -> None:
    """Replace the night's folder by renames only: readers see the old folder or the new one, never a mix."""
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    failpoint("export_swap")
    staging.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def recover(exports_root: Path) -> list[str]:
    """After a night killed while writing: put back a previous folder moved aside but not yet replaced,
    and remove folders half-written. What caseworkers find is always a whole night's files."""
    done = []
    for old in sorted(exports_root.glob(".*.old")):
        final = old.with_name(old.name[1:-len(".old")])
        if final.exists():
            shutil.rmtree(old)
        else:
            old.rename(final)
            done.append(f"restored {final.name}")
    for staging in sorted(exports_root.glob(".*.tmp")):
        shutil.rmtree(staging)
        done.append(f"removed {staging.name}")
    return done
