"""The caseworkers' lists (活用主体): one CSV (UTF-8 with BOM) and one .xlsx per support office and run.

Exactly the columns of flag-rules.md, in its order, and nothing more; each office gets only its own
children. A second sheet (判定情報) states the run's facts, including any source that was stale or rejected,
in plain Japanese. The folder of a night is written aside and swapped in whole, so a failed run never
leaves half-written files and the previous night's lists stay readable.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

import duckdb
import polars as pl
import xlsxwriter

from pipelines.faults import failpoint
from pipelines.sources import source_facts

EXPORT_COLUMNS = ["宛名番号", "氏名", "氏名カナ", "生年月日", "年齢", "性別", "住所", "学校名", "学年", "該当領域数",
                  "該当領域", "該当理由", "支援状況", "前回比", "判定基準日", "ルール版"]
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
            rule_version as ルール版
        from marts.flagged_children
        where as_of = ?
        order by list_order
    """, [as_of]).pl()


def fact_rows(office: Office, rows: pl.DataFrame, facts: list[dict], rules: dict, as_of: date) -> list[tuple]:
    """The 判定情報 sheet: the run's facts in plain Japanese; counts only, no child's identity."""
    new = rows.filter(pl.col("前回比") == "新規").height
    out = [("判定基準日", as_of.isoformat()), ("ルール版", f"{rules['version']}（{rules['name']}）"),
           ("判定条件", f"{rules['min_domains']}領域以上で該当"), ("支援拠点", f"{office.code} {office.name}"),
           ("該当児童数", f"{rows.height}人（新規 {new}人、継続 {rows.height - new}人）")]
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


WIDTHS = {"宛名番号": 17, "氏名": 14, "氏名カナ": 18, "生年月日": 11, "年齢": 5, "性別": 5, "住所": 30, "学校名": 22,
          "学年": 5, "該当領域数": 9, "該当領域": 16, "該当理由": 60, "支援状況": 9, "前回比": 7, "判定基準日": 11,
          "ルール版": 16}


def write_xlsx(rows: pl.DataFrame, facts: list[tuple], path: Path, as_of: date) -> None:
    workbook = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_urls": False})
    # dated by the list, not by the clock: the same night written twice is the same bytes
    workbook.set_properties({"created": datetime.combine(as_of, time())})
    header = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                                  "valign": "vcenter"})
    text = workbook.add_format({"valign": "top", "num_format": "@"})
    wrap = workbook.add_format({"valign": "top", "text_wrap": True})
    sheet = workbook.add_worksheet("見守りリスト")
    sheet.freeze_panes(1, 0)
    for c, name in enumerate(EXPORT_COLUMNS):
        sheet.write_string(0, c, name, header)
        sheet.set_column(c, c, WIDTHS[name], wrap if name == "該当理由" else text)
    for r, row in enumerate(rows.select(EXPORT_COLUMNS).iter_rows(), start=1):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, int):
                sheet.write_number(r, c, value)
            else:
                sheet.write_string(r, c, str(value), wrap if EXPORT_COLUMNS[c] == "該当理由" else text)
    if rows.height:
        sheet.autofilter(0, 0, rows.height, len(EXPORT_COLUMNS) - 1)
    info = workbook.add_worksheet("判定情報")
    info.set_column(0, 0, 16)
    info.set_column(1, 1, 100, wrap)
    for r, (k, v) in enumerate(facts):
        info.write_string(r, 0, k, header if k else text)
        info.write_string(r, 1, v, wrap)
    workbook.close()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_exports(con: duckdb.DuckDBPyConnection, exports_root: Path, landing: Path, as_of: date,
                  rules: dict, offices_cfg: dict, run_id: str) -> list[ExportFile]:
    """Write every office's files for T into a new folder, then swap it in for exports/<as-of>."""
    final = exports_root / as_of.isoformat()
    recover(exports_root)
    staging = exports_root / f".{as_of.isoformat()}.{run_id}.tmp"
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
            write_xlsx(mine, fact_rows(office, mine, facts, rules, as_of), xlsx_path, as_of)
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
