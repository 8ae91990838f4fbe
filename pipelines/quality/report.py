"""The nightly report for the data team: one self-contained HTML file (inline SVG plots, no external
styles or scripts) in HOME/reports/<as-of>/report.html. Counts only, never a child's identity."""

from __future__ import annotations

import html
import re
from collections import Counter
from datetime import date
from pathlib import Path

import polars as pl

from pipelines.analysis.lab import QUASI_IDENTIFIERS, singling_out
from pipelines.analysis.labels import group_label
from pipelines.core import config
from pipelines.core.charts import Charts
from pipelines.core.html import STYLE, html_table
from pipelines.outcomes.headline import latest_headline
from pipelines.quality.expectations import Outcome
from schemas.contract import EXTRACTS


def quarantine_reasons(folder: Path) -> Counter:
    """Reasons of tonight's quarantined rows, without the values (which may be a person's data)."""
    import csv

    reasons: Counter = Counter()
    for path in sorted(folder.glob("*.csv")) if folder.exists() else []:
        with open(path, encoding="utf-8-sig", newline="") as f:
            for row in csv.DictReader(f):
                for reason in row["理由"].split("; "):
                    reason = re.sub(r"「.*?」|（.*?）", "", reason).strip()
                    reasons[(path.stem.split("_")[0], reason)] += 1
    return reasons


COMBINATIONS_SHOWN = 15  # signal combinations in the review table: the most reviewed


def extract_words(name: str) -> str:
    """住民記録（jumin）: the department's data in words, the file's name for the data team."""
    extract = EXTRACTS.get(name)
    return f"{extract.title}（{name}）" if extract and extract.title else name


def check_words(check: str) -> str:
    """ge_jumin as 住民記録（ge_jumin）: what is checked in words, the check's name for the Dagster UI."""
    subject = {"ge_link_rates": "連携率", "ge_list_size": "リストの人数"}.get(check) or \
        extract_words(check.removeprefix("ge_")).split("（")[0]
    return f"{subject}（{check}）"


def signal_words(combination: str) -> str:
    """'E3+S1' as 'E3 就学援助 + S1 月間欠席'."""
    labels = {k.upper(): v["label"] for k, v in config.rules()["signals"].items()}
    return " + ".join(f"{s} {labels.get(s, '')}".strip() for s in combination.split("+"))


def review_section(timeliness: pl.DataFrame, by_signals: pl.DataFrame, due_days: int) -> str:
    """Step ② in numbers: the work queue and timeliness per office, 要支援 per signal combination."""
    def share(n, d) -> str:
        return "-" if not d or n is None else f"{n / d:.0%}"

    def count(v) -> str:
        return "&lt;5" if v is None else f"{v:,}"

    names = {o["code"]: o["name"] for o in [config.offices()["default_office"], *(config.offices().get("offices") or [])]}
    office_rows = [[html.escape(f"{r['office_code']} {names.get(str(r['office_code']), '')}".strip()),
                    f"{r['awaiting_tonight']:,}",
                    f'<span class="warn">{r["overdue_tonight"]:,}</span>' if r["overdue_tonight"] else "0",
                    f"{r['due_so_far']:,}", f"{r['reviewed_in_time']:,}", share(r["reviewed_in_time"], r["due_so_far"])]
                   for r in timeliness.iter_rows(named=True)]
    combinations = list(by_signals.iter_rows(named=True))
    shown = sorted(combinations, key=lambda r: -(r["reviews"] or 0))[:COMBINATIONS_SHOWN]
    signal_rows = [[html.escape(signal_words(r["signals"])), count(r["reviews"]), count(r["needs_support"]),
                    share(r["needs_support"], r["reviews"])] for r in shown]
    rest = len(combinations) - len(shown)
    return f"""<h2>ケースワーカーの確認と作業待ち (caseworkers' reviews and the work queue)</h2>
<p>リストに載った子どもは確認を待ちます。{due_days}日を過ぎても確認がなければ「期限超過」です。</p>
{html_table(["支援拠点 office", "確認待ち（今夜）", "期限超過（今夜）", "これまでに期限が来た掲載",
         f"{due_days}日以内に確認", "期限内の割合"], office_rows) if office_rows else "<p>まだリストがありません。</p>"}
<p>確認されたリストでの該当シグナルの組み合わせごとに「要支援」と判断された割合（確認の多い{COMBINATIONS_SHOWN}通りまで
{f"、ほか{rest}通りは省略" if rest > 0 else ""}）。5人未満は &lt;5。シグナルごとの割合と区間は効果検証のページにあります。</p>
{html_table(["確認されたリストのシグナル", "確認", "要支援", "割合"], signal_rows)
 if signal_rows else "<p>確認はまだ返ってきていません。</p>"}"""


def lab_section(analysis, as_of: date, gov: dict) -> str:
    """Fairness of the rules in force (flag rates by group as ratios to the overall rate), and how many
    children the quasi-identifiers of child_indicators single out (governance: pseudonymised, not anonymous)."""

    e, threshold = html.escape, gov["small_cell_threshold"]
    fairness = analysis.execute("select dimension, \"group\", children, flagged, ratio, judged from fairness_nightly "
                                "where as_of = ? order by dimension, \"group\"", [as_of]).pl()
    low, high = gov["fairness_band"]
    rows = []
    # age bands in age order (0-5, 6-11, 12-14 …), not as text
    order = fairness.with_columns(first=pl.col("group").str.extract(r"^(\d+)", 1).cast(pl.Int64, strict=False))
    for r in order.sort("dimension", "first", "group").iter_rows(named=True):
        # a group too small to expect a few flags at the overall rate is not judged: a ratio of 0.00 for
        # 7 children would read as a finding (fairness_nightly keeps the value for analysts)
        ratio = "-" if r["ratio"] is None or not r["judged"] else f"{r['ratio']:.2f}"
        if r["judged"] and r["ratio"] is not None and not low <= r["ratio"] <= high:
            ratio = f'<span class="warn">{ratio}</span>'
        dimension, group = group_label(r["dimension"], r["group"])
        rows.append([e(dimension), e(group), "&lt;5" if r["children"] is None else f"{r['children']:,}",
                     "&lt;5" if r["flagged"] is None else f"{r['flagged']:,}", ratio])
    children = analysis.execute(f"select {', '.join(QUASI_IDENTIFIERS)} from child_indicators where as_of = ?",
                                [as_of]).pl()
    risk = singling_out(children, QUASI_IDENTIFIERS, threshold)
    return f"""<h2>ルールの公平性と再識別のリスク (fairness of the rules in force, re-identification risk)</h2>
<p>集団ごとの該当率を全体の該当率との比で示します（{low}〜{high} の外はオレンジ）。見直すきっかけであり、判定ではありません。
「-」は判断するには小さすぎる集団（全体の率で{threshold}人の該当に届かない）か、{threshold}人未満で伏せた数です。</p>
{html_table(["属性 dimension", "集団 group", "児童数 children", "該当 flagged", "比 ratio"], rows, left=2)}
<p>分析用データ（child_indicators）の準識別子（{e(", ".join(QUASI_IDENTIFIERS))}）で一人に特定できる子どもは
{risk['children']:,}人中 <b>{risk['unique_share']:.1%}</b>、{threshold}人未満の組にいる子どもは <b>{risk['under_k_share']:.1%}</b>
(its quasi-identifiers single out {risk['unique_share']:.1%}). 仮名加工情報として市の中だけで使います。外部の研究には
<code>mimamori research extract</code>（匿名加工、k-匿名性を測って確かめます）。</p>"""


def rights_section(summary: dict) -> str:
    """Residents' rights in counts, and any user over the day's limit of re-identifications and reports."""
    e, rights = html.escape, summary.get("rights", {})
    rows = [[e(k), f"{v:,}"] for k, v in rights.get("people_set_aside", {}).items()]
    rows += [[e(f"別に保管した行: {extract_words(k)}"), f"{v:,}"] for k, v in rights.get("rows_set_aside", {}).items()]
    rows += [["有効な訂正 (corrections in force)", f"{rights.get('corrections_active', 0):,}"],
             ["今夜適用した訂正", f"{rights.get('corrections_applied_tonight', 0):,}"],
             ["今夜、担当課のデータにも反映された訂正",
              e(", ".join(rights.get("corrections_reflected_tonight") or []) or "なし")]]
    alerts = "".join(f'<li class="warn">{e(a["user"])}: {a["requests"]} re-identifications and disclosure reports '
                     f'on {e(a["day"])} (limit {a["limit"]} a day)</li>' for a in summary.get("access_alerts", []))
    return f"""<h2>住民の権利（利用停止・訂正）と閲覧（再識別・開示） (residents' rights and access)</h2>
{html_table(["", "件数"], rows)}
{f"<p>閲覧の警告 (access alerts):</p><ul>{alerts}</ul>" if alerts else "<p>再識別・開示の一日の上限を超えた利用者はいません。</p>"}"""


def guidance_section(g: dict) -> str:
    """The 児童相談所 list's linkage (no 宛名番号: linked by name, birth date, address): records per band."""
    if not g:
        return ""
    n = max(g["records"], 1)
    rows = [[label, f"{v:,}", f"{v / n:.1%}"] for label, v in (
        ("自動照合（自動で連携）", g["auto"]), ("確認済（データ担当の判断で連携）", g["reviewed"]),
        ("照合確認へ（データ担当の確認待ち）", g["review"]), ("照合なし（住民に見つからない）", g["none"]))]
    return f"""<p>児童相談所の名簿（jisou）: {g['records']:,}件。照合を確認する組は HOME/{html.escape(g['review_file'])}
（所有者のみ閲覧可）にあります。</p>
{html_table(["", "件数", "割合"], rows)}"""


def effect_section(home: Path) -> str:
    """The latest 効果検証 (`mimamori outcomes evaluate`): its headline and a link, or how to make one."""
    latest = latest_headline(home)
    if latest is None:
        return ("<h2>効果検証 (did the support help?)</h2><p>まだ評価していません。分析担当が "
                "<code>mimamori outcomes evaluate --home HOME</code> で作ります (none yet).</p>")
    text, page = latest
    return (f'<h2>効果検証 (did the support help?)</h2><p>{html.escape(text)} '
            f'<a href="{html.escape(page.as_uri())}">評価の詳細 (the evaluation)</a></p>')


def render(as_of: date, summary: dict, outcomes: list[Outcome], dept: pl.DataFrame, links: pl.DataFrame,
           history: pl.DataFrame, reasons: Counter, data_docs: Path | None, charts: Charts | None = None,
           reviews: str = "", effect: str = "") -> str:
    e = html.escape
    stale = {f["extract"]: f for f in summary.get("stale_sources", [])}
    in_use = summary.get("data_extracted_on", {})
    def freshness(extract: str) -> str:
        if extract not in stale:
            return ""
        return ' <span class="warn">NOT JUDGED</span>' if stale[extract]["not_judged"] else \
            ' <span class="warn">STALE</span>'

    not_judged = "".join(f'<li class="warn">{e(f["not_judged"])}</li>' for f in stale.values() if f["not_judged"])
    dept_rows = [[e(extract_words(r["extract"])), f"{in_use.get(r['extract'], '-')}" + freshness(r["extract"]),
                  f"{r['rows']:,}", "-" if r["previous_rows"] is None else f"{r['row_change']:+.1%}",
                  f"{r['quarantined_rows']:,}"] for r in dept.iter_rows(named=True)]
    check_rows = [[e(check_words(o.check)), '<span class="ok">合格 passed</span>' if o.passed else '<span class="warn">不合格 FAILED</span>',
                   f'<span style="text-align:left">{e(o.message)}</span>'] for o in outcomes]
    reason_rows = [[e(extract_words(x)), e(r), f"{n:,}"] for (x, r), n in reasons.most_common(20)]
    link_rows = [[e(d), f"{u:,}", f"{t:,}", f"{rate:.1%}"]
                 for d, u, t, rate in zip(links["description"], links["unmatched"], links["total"], links["link_rate"])]
    flagged = summary.get("flagged", {})
    charts = charts or Charts()
    words = {"all": "全体", **{name: x.title for name, x in EXTRACTS.items() if x.title},
             **dict(zip(links["measure"], links["description"]))} if "measure" in links.columns else {"all": "全体"}
    history = history.with_columns(subject=pl.col("subject").replace(words))
    plots = [charts.bars(summary.get("by_domain", {}) or {"-": 0}, "リスト掲載（領域別・今夜）"),
             charts.bars(summary.get("by_office", {}) or {"-": 0}, "リスト掲載（支援拠点別・今夜）"),
             charts.trend(history, "flagged_children", "リスト掲載の推移（直近の夜）"),
             charts.trend(history, "rows", "各課のデータ件数の推移"),
             charts.trend(history, "link_rate", "連携率の推移")]
    docs = f'<p>Great Expectations の Data Docs（チェックの詳細）: <a href="{e(data_docs.as_uri())}">{e(str(data_docs))}</a></p>' \
        if data_docs else ""
    return f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>mimamori nightly report {as_of}</title>
<style>{STYLE}</style></head><body>
<h1>見守り（mimamori）夜間レポート — {as_of} 時点 (nightly report)</h1>
<p>対象の子ども <b>{summary.get('children', 0):,}</b>人、リスト掲載 <b>{sum(flagged.values()):,}</b>人
（新規 {flagged.get('新規', 0):,}人、継続 {flagged.get('継続', 0):,}人）、解除 {summary.get('released', 0):,}人。
ルール版 {e(str(summary.get('rule_version', '')))}。このレポートは人数だけを載せています (counts only).</p>
{f"<p>判定していない項目（使えるデータがない） (not judged tonight):</p><ul>{not_judged}</ul>" if not_judged else ""}
<h2>各課のデータ: 鮮度と件数 (departments: freshness and rows)</h2>
{html_table(["データ extract", "使用中のデータ（抽出日）", "件数", "前回比", "今夜の隔離"], dept_rows)}
<h2>品質チェック (quality checks, Great Expectations)</h2>
{html_table(["チェック check", "結果", "内容 detail"], check_rows, left=3)}
{docs}
<h2>隔離した行（理由別） (quarantined rows by reason)</h2>
{html_table(["データ extract", "理由", "行数"], reason_rows, left=2) if reason_rows else "<p>今夜はありません。</p>"}
<h2>連携率 (link rates)</h2>
{html_table(["項目", "連携できない", "全体", "連携率"], link_rows)}
{guidance_section(summary.get("guidance_links", {}))}
{reviews}
{rights_section(summary)}
{effect}
<h2>リスト掲載と推移 (flagged children and trends)</h2>
<div class="plots">{''.join(f'<figure>{p}</figure>' for p in plots)}</div>
</body></html>
"""
