"""開示 (disclosure, ../shared/spec/rights.md): everything mimamori keeps about one person, as one
self-contained Japanese HTML file (readable printed; a PDF beside it when Chromium is installed), written
with owner-only permissions under HOME/disclosures/. The request — OS user, reason and the person's token,
never the 宛名番号 — goes to the audit log before the file is written.
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import polars as pl

from pipelines.analysis.marts import analysis_path, tokenizer
from pipelines.core import config
from pipelines.core.audit import AuditLog
from pipelines.core.home import Home
from pipelines.core.keys import key_path
from pipelines.core.store import table_exists
from pipelines.rights.letter import CODE_WORDS, attendance_by_month, holdings, letter
from pipelines.rights.requests import PERSON_TABLES, purge_date, set_aside_table
from schemas.contract import EXTRACTS

SIGNALS = ["e1", "e2", "e3", "e4", "c1", "c2", "c3", "s1", "s2", "s3", "s4", "h1", "h2"]
STYLE = """
body{font-family:"Noto Sans CJK JP","Hiragino Sans",Meiryo,sans-serif;margin:2rem auto;max-width:70rem;color:#1f2933;
font-size:10.5pt}h1{font-size:1.5rem}h2{font-size:1.15rem;border-bottom:1px solid #99a;margin-top:1.6rem}
table{border-collapse:collapse;margin:.4rem 0;width:100%}td,th{border:1px solid #99a;padding:.2rem .4rem;text-align:left;
vertical-align:top;white-space:pre-wrap;word-break:keep-all;overflow-wrap:anywhere}th{background:#eef2f7}
table.record{width:auto;min-width:40%}table.record th{width:12rem}.note{color:#52606d}.aside{color:#b54708}
.letter{font-size:11pt;line-height:1.7}.letter p.to{text-align:right}.appendix{break-before:page}
@media print{body{margin:0;max-width:none;font-size:9pt}h2{break-after:avoid}tr{break-inside:avoid}
@page{size:A4;margin:14mm}}
"""


@dataclass
class Section:
    title: str
    headers: list[str]
    rows: list[list] = field(default_factory=list)
    note: str = ""


def _rows(con, sql: str, params: list) -> list[list]:
    return [list(r) for r in con.execute(sql, params).fetchall()]


def department_sections(con: duckdb.DuckDBPyConnection, code: str) -> list[Section]:
    """Every row of every department's data about the person, with its source file and line; rows set
    aside (利用停止, or removed by a correction) are shown as such."""
    pupils = []
    for t in ("raw.gakureibo", set_aside_table("gakureibo")):
        if table_exists(con, t):
            pupils += [r[0] for r in con.execute(f"select pupil_id from {t} where address_code = ?", [code]).fetchall()]
    cases = [r[0] for r in con.execute("select case_number from raw.jisou_links where address_code = ? "
                                        "and band = 'link'", [code]).fetchall()] \
        if table_exists(con, "raw.jisou_links") else []
    sections = []
    for name, extract in EXTRACTS.items():
        person = PERSON_TABLES.get(name, "case_number")  # 児童相談所: the cases linked to the person
        keys = {"address_code": [code], "pupil_id": pupils, "case_number": cases}[person]
        columns = [c.name for c in extract.columns]
        section = Section(f"{extract.title}（{extract.name}）",
                          [c.japanese for c in extract.columns] + ["訂正", "出典ファイル", "行", "状態"])
        for table, state in ((f"raw.{name}", "使用中"), (set_aside_table(name), "除外中")):
            if not keys or not table_exists(con, table):
                continue
            marks = "array_to_string(_corrections, '・')" if _has(con, table, "_corrections") else "''"
            reason = "_set_aside_by" if state == "除外中" else "''"
            section.rows += _rows(con, f"""select {', '.join(f'cast({c} as varchar)' for c in columns)}, {marks},
                                          _source_file, _source_line, {reason}
                                   from {table} where {person} in (select unnest(?))
                                   order by _source_file, _source_line""", [keys])
        for column, words in CODE_WORDS.items():  # codes in words: 性別 男, 保健室利用 あり
            if column in columns:
                i = columns.index(column)
                for row in section.rows:
                    row[i] = f"{words.get(row[i], row[i])}" if row[i] is not None else None
        for row in section.rows:
            if row[-1] and row[-1] != "":
                row[-1] = "除外中（" + row[-1].replace("teishi:", "利用停止 ").replace("teisei:", "訂正 ").replace(
                    "consent", "同意の範囲外") + "）"
            else:
                row[-1] = "使用中"
        section.note = f"{len(section.rows)}行" if section.rows else "記録はありません。"
        sections.append(section)
    return sections


def _has(con, table: str, column: str) -> bool:
    schema, name = table.split(".")
    return bool(con.execute("select count(*) from information_schema.columns where table_schema = ? and "
                            "table_name = ? and column_name = ?", [schema, name, column]).fetchone()[0])


def screening_sections(con: duckdb.DuckDBPyConnection, code: str, token: str, home: Path) -> list[Section]:
    listed = Section("見守りリストへの掲載（夜ごと）", ["判定基準日", "支援拠点", "ルール版", "該当理由", "支援状況", "前回比",
                                                   "前回確認日", "前回確認結果"])
    if table_exists(con, "marts.flag_list_history"):
        listed.rows = _rows(con, """select cast(as_of as varchar), office_code, rule_version, reasons, support_status,
                                           change_since_previous, cast(last_reviewed_on as varchar), last_review_result
                                    from marts.flag_list_history where address_code = ? order by as_of""", [code])
    listed.note = "掲載されたことはありません。" if not listed.rows else f"{len(listed.rows)}夜"
    signals = Section("シグナル（夜ごと、仮名化された分析用データから）", ["判定基準日", "該当したシグナル", "該当領域数", "リスト該当"])
    path = analysis_path(home)
    if path.exists():
        a = duckdb.connect(str(path), read_only=True)
        try:
            if table_exists(a, "main.child_indicators"):
                for row in a.execute(f"""select cast(as_of as varchar), {', '.join(f'signal_{s}' for s in SIGNALS)},
                                               domain_count, is_flagged
                                        from child_indicators where child_token = ? order by as_of""",
                                     [token]).fetchall():
                    fired = [s.upper() for s, v in zip(SIGNALS, row[1:14]) if v]
                    signals.rows.append([row[0], "・".join(fired) or "なし", row[14], "はい" if row[15] else "いいえ"])
        finally:
            a.close()
    signals.note = "記録はありません（18歳未満の住民でなかった、または利用停止中）。" if not signals.rows else ""
    reviews = Section("支援拠点による確認（確認結果）", ["判定基準日", "確認日", "確認結果", "出典ファイル", "行", "状態"],
                      note="確認者（職員コード）は記載していません。")
    for table, state in (("raw.reviews", "使用中"), (set_aside_table("reviews"), "除外中")):
        if table_exists(con, table):
            reviews.rows += [r + [state] for r in _rows(
                con, f"""select cast(list_date as varchar), cast(reviewed_on as varchar), result, _source_file,
                                _source_line from {table} where address_code = ? order by reviewed_on""", [code])]
    if not reviews.rows:
        reviews.note = "記録はありません。"
    return [listed, signals, reviews]


def request_sections(con: duckdb.DuckDBPyConnection, code: str) -> list[Section]:
    corrections = Section("訂正", ["受付番号", "抽出", "行の鍵", "項目", "訂正後の値", "理由", "状態", "反映日"])
    suspensions = Section("利用停止", ["受付番号", "開始日", "終了日", "理由区分"])
    consents = Section("同意", ["受付番号", "同意日", "撤回日"])
    if table_exists(con, "raw.corrections"):
        corrections.rows = _rows(con, """select receipt, extract, row_key, coalesce(column_ja, '（レコード全体）'),
                                                coalesce(new_value, ''), coalesce(reason, ''),
                                                case status when 'reflected' then '反映済（各課のデータと一致）' else '適用中' end,
                                                coalesce(cast(reflected_on as varchar), '')
                                         from raw.corrections where person_code = ? order by _loaded_seq""", [code])
        suspensions.rows = _rows(con, """select receipt, cast(start_date as varchar), coalesce(cast(end_date as varchar), ''),
                                                reason_kind from raw.suspensions where address_code = ?
                                         order by start_date""", [code])
        consents.rows = _rows(con, """select receipt, cast(consented_on as varchar),
                                             coalesce(cast(withdrawn_on as varchar), '') from raw.consents
                                      where address_code = ? order by consented_on""", [code])
    for s in (corrections, suspensions, consents):
        s.note = "" if s.rows else "記録はありません。"
    return [corrections, suspensions, consents]


def reidentifications(home: Path, code: str, household: str | None) -> Section:
    """The audit log's re-identifications of the person's tokens, for every purpose whose key exists."""
    tokens = {}
    for key in sorted(Home(home).keys.glob("pseudonym_*.key")):
        purpose = key.stem.removeprefix("pseudonym_")
        token = tokenizer(home, purpose)
        tokens[token("child", code)] = purpose
        if household:
            tokens[token("household", household)] = purpose + "（世帯）"
    section = Section("再識別（仮名から本人への照会）", ["日時", "目的", "理由"])
    for e in AuditLog(Home(home).audit_log).entries():
        if e["event"] == "reidentify" and e["details"].get("token") in tokens:
            section.rows.append([e["at"], tokens[e["details"]["token"]], e["details"].get("reason", "")])
    section.note = "" if section.rows else "記録はありません。"
    return section


def render(title: str, facts: list[tuple[str, str]], sections: list[Section], letter_html: str = "") -> str:
    e = html.escape

    def table(s: Section) -> str:
        if not s.rows:
            return ""
        if len(s.rows) == 1 and len(s.headers) > 6:  # one record: read down, not across
            return '<table class="record">' + "".join(
                f"<tr><th>{e(h)}</th><td>{e('' if v is None else str(v))}</td></tr>"
                for h, v in zip(s.headers, s.rows[0])) + "</table>"
        head = "".join(f"<th>{e(h)}</th>" for h in s.headers)
        body = "".join("<tr>" + "".join(f"<td>{e('' if v is None else str(v))}</td>" for v in r) + "</tr>"
                       for r in s.rows)
        return f"<table><tr>{head}</tr>{body}</table>"

    fact_rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in facts)
    parts = "".join(f"<h2>{e(s.title)}</h2>" + (f'<p class="note">{e(s.note)}</p>' if s.note else "") + table(s)
                    for s in sections)
    return f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>{e(title)}</title><style>{STYLE}</style></head><body>
{letter_html}
<section class="appendix"><h1>付録: 保有しているすべての記録</h1>
<p class="note">各課から届いたファイルの行をそのまま載せています（出典ファイルと行番号つき）。状態「使用中」は見守りで使って
いる記録、「除外中」は利用停止や訂正のため使っていない記録です。</p>
<table>{fact_rows}</table>{parts}</section>
<p class="note">このファイルは個人情報です。取扱注意。見守りリストは支援の要否を判断するための1次スクリーニングであり、
本人について何かを決定するものではありません。</p></body></html>
"""


def person_report(home: Path, code: str, reason: str, user: str, con: duckdb.DuckDBPyConnection) -> Path:
    gov = config.governance()
    token = tokenizer(home, gov["purpose"])("child", code)
    now = datetime.now(timezone.utc)
    # the request is in the audit log before anything is written
    AuditLog(Home(home).audit_log).append("disclosure", token=token, purpose=gov["purpose"], reason=reason,
                                                  user=user)
    registry = None
    for t in ("raw.jumin", set_aside_table("jumin")):
        if registry is None and table_exists(con, t):
            registry = con.execute(f"select household_code, resident_status, change_reason, change_date from {t} "
                                   "where address_code = ?", [code]).fetchone()
    household = registry[0] if registry else None
    facts = [("宛名番号", code), ("作成日時", now.astimezone().strftime("%Y-%m-%d %H:%M")), ("請求の理由", reason),
             ("作成者", user)]
    if registry and registry[1] == "消除":
        purge = purge_date(registry[3], gov["removed_person_days"])
        facts.append(("消去予定日", f"{purge}（住民記録から{registry[2] or '消除'}された日 {registry[3]} の"
                                    f"{gov['removed_person_days']}日後に、見守りのすべての記録を消去します）"))
    requests = request_sections(con, code)
    looked = reidentifications(home, code, household)
    sections = department_sections(con, code) + screening_sections(con, code, token, home) + requests + [looked]
    letter_html = _letter(con, code, registry, gov, requests, looked)
    folder = Home(home).disclosures
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    path = folder / f"開示_{token[:12]}_{now:%Y%m%d%H%M%S}.html"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # owner-only from the first byte
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(render("保有個人情報の開示（見守り）", facts, sections, letter_html))
    _pdf(path)
    return path


def _letter(con: duckdb.DuckDBPyConnection, code: str, registry: tuple | None, gov: dict, requests: list[Section],
            looked: Section) -> str:
    """The letter before the appendix (letter.py), from the same store."""
    keys = {"address_code": [code], "pupil_id": [], "case_number": []}
    for t in ("raw.gakureibo", set_aside_table("gakureibo")):
        if table_exists(con, t):
            keys["pupil_id"] += [r[0] for r in con.execute(f"select pupil_id from {t} where address_code = ?", [code]).fetchall()]
    if table_exists(con, "raw.jisou_links"):
        keys["case_number"] = [r[0] for r in con.execute("select case_number from raw.jisou_links where address_code = ? "
                                                         "and band = 'link'", [code]).fetchall()]
    name = None
    for t in ("raw.jumin", set_aside_table("jumin")):
        if name is None and table_exists(con, t):
            found = con.execute(f"select full_name from {t} where address_code = ?", [code]).fetchone()
            name = found[0] if found else None
    nights = con.execute("select as_of, office_code, signal_ids from marts.flag_list_history where address_code = ? "
                         "order by as_of", [code]).pl() if table_exists(con, "marts.flag_list_history") else \
        pl.DataFrame(schema={"as_of": pl.Date, "office_code": pl.String, "signal_ids": pl.List(pl.String)})
    reviews = [tuple(r) for t in ("raw.reviews", set_aside_table("reviews")) if table_exists(con, t)
               for r in con.execute(f"select reviewed_on, result from {t} where address_code = ? order by reviewed_on",
                                    [code]).fetchall()]
    offices = config.offices()
    office = offices["default_office"]
    if nights.height:
        office = next((o for o in offices["offices"] if o["code"] == nights["office_code"][-1]), office)
    days = gov["removed_person_days"]
    if registry and registry[1] == "消除":
        deletion = (f"お子さんは{registry[3]}に住民記録から{registry[2] or '消除'}されました。その{days}日後の"
                    f"{purge_date(registry[3], days)}に、見守りのすべての記録を消去します。")
    else:
        deletion = (f"お子さんが市の住民である間は保持します。転出などで住民記録から消除された日から{days}日後に、"
                    "見守りのすべての記録を消去します。")
    corrections, suspensions = len(requests[0].rows), len(requests[1].rows)
    return letter(name=name, office=office, held=holdings(con, keys), nights=nights, reviews=reviews,
                  looked=len(looked.rows), deletion=deletion, corrections=corrections, suspensions=suspensions,
                  months=attendance_by_month(con, keys["pupil_id"]))


def _pdf(page: Path) -> Path | None:
    """The same page as PDF, printed by headless Chromium, when it is installed."""
    chromium = shutil.which("chromium")
    if not chromium:
        return None
    pdf = page.with_suffix(".pdf")
    fd = os.open(pdf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--no-first-run", "--disable-component-update", "--disable-sync", "--no-pdf-header-footer",
                        f"--user-data-dir={profile}", f"--print-to-pdf={pdf}", page.as_uri()],
                       capture_output=True, timeout=120)
    return pdf if pdf.stat().st_size else None


def key_exists(home: Path) -> bool:
    return key_path(home, f"pseudonym_{config.governance()['purpose']}").exists()
