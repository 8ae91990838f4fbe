"""The lab's evaluation of a candidate rule set as one self-contained HTML page (counts only)."""

from __future__ import annotations

import html
from pathlib import Path

from pipelines.analysis.judged import HEADERS, table_rows
from pipelines.analysis.labels import group_label
from pipelines.core import config
from pipelines.core.html import STYLE, html_table


def _n(value) -> str:
    return "&lt;5" if value is None else f"{value:,}" if isinstance(value, int) else html.escape(str(value))


def _side_by_side(current: dict, candidate: dict) -> list[list]:
    return [[html.escape(str(k)), _n(current.get(k)), _n(candidate.get(k))] for k in sorted(set(current) | set(candidate))]


def _fairness(summary: dict) -> list[list]:
    current = {(r["dimension"], r["group"]): r for r in summary["current"]["fairness"]}
    candidate = {(r["dimension"], r["group"]): r for r in summary["candidate"]["fairness"]}
    rows = []
    for key in sorted(set(current) | set(candidate)):
        a, b = current.get(key, {}), candidate.get(key, {})
        dimension, group = group_label(*key, with_code=True)
        rows.append([html.escape(dimension), html.escape(group), _n(a.get("children")),
                     "-" if a.get("ratio") is None else f"{a['ratio']:.2f}", "-" if b.get("ratio") is None else f"{b['ratio']:.2f}"])
    return rows


def _named(counts: dict, words: dict) -> dict:
    """Codes with their words beside them: '00 こども家庭センター', 'S1 月間欠席'."""
    return {f"{k} {words.get(k, '')}".strip(): v for k, v in counts.items()}


def _signal_labels() -> dict[str, str]:
    return {k.upper(): v["label"] for k, v in config.rules()["signals"].items()}


def render_evaluation(summary: dict, candidate_path: Path) -> str:
    e = html.escape
    cur, cand = summary["current"], summary["candidate"]
    reviews = summary["reviews"]
    labels = _signal_labels()
    totals = [["リスト掲載 (flagged children)", _n(cur["flagged"]), _n(cand["flagged"])],
              ["候補で増える (added by the candidate)", "", _n(summary["added"])],
              ["候補で減る (removed by the candidate)", "", _n(summary["removed"])],
              ["本人以外の世帯員の記録だけによる掲載 (resting only on other members' records)",
               f"{_n(cur['resting_only_on_others'])} ({cur['resting_only_on_others_share'] or 0:.0%})",
               f"{_n(cand['resting_only_on_others'])} ({cand['resting_only_on_others_share'] or 0:.0%})"]]
    review_words = {"flagged_and_reviewed": "掲載され確認された子ども", "judged_needs_support": "うち要支援",
                    "needs_support_share": "要支援の割合", "reviewed_no_concern_still_flagged": "支援不要と確認されたのに掲載"}
    review_rows = [] if not reviews.get("reviewed_children") else [
        [f"{review_words[k]} ({e(k)})", _n(reviews["current"][k]), _n(reviews["candidate"][k])] for k in review_words]
    offices = {o["code"]: o["name"] for o in [config.offices()["default_office"], *(config.offices().get("offices") or [])]}
    sides = ["", "現行ルール (rules in force)", "候補 (candidate)"]
    return f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>ルール案の評価 {e(str(cand['version']))}</title>
<style>{STYLE}</style></head><body>
<h1>ルール案の評価 — 候補 {e(str(cand['version']))} と現行 {e(str(cur['version']))} (rule evaluation)</h1>
<p>{e(str(summary['as_of']))} の夜の子ども {summary['children']:,}人。候補のルール: {e(str(candidate_path))}。
分析用の仮名化データに、夜間のリストと同じルールのマクロを当てて数えました。本番は何も変わっていません。
5人未満は &lt;5 と表示します。</p>
<h2>リスト (the list)</h2>
{html_table(sides, totals)}
<h2>領域ごと (by domain)</h2>
{html_table(["領域", *sides[1:]], _side_by_side(cur["by_domain"], cand["by_domain"]))}
<h2>支援拠点ごと (by office)</h2>
{html_table(["支援拠点", *sides[1:]], _side_by_side(_named(cur["by_office"], offices), _named(cand["by_office"], offices)))}
<h2>シグナルごとの子ども (children per signal)</h2>
{html_table(["シグナル", *sides[1:]], _side_by_side(_named(cur["by_signal"], labels), _named(cand["by_signal"], labels)))}
<h2>ケースワーカーの確認との一致 (agreement with caseworkers' reviews)</h2>
{html_table(sides, review_rows) if review_rows else "<p>確認はまだ返ってきていません。</p>"}
<h2>要支援と判断された割合（シグナルごと） (rules judged by caseworkers)</h2>
<p>確認されたリストのシグナルごとに、確認された子ども、そのうち「要支援」、割合とWilsonの95%区間（子どもごとに最新の確認。
5人未満は —）。同じ表が効果検証のページにもあります。</p>
{html_table(HEADERS, table_rows(summary["signals_judged"], labels)) if summary["signals_judged"] else "<p>確認はまだ返ってきていません。</p>"}
<h2>集団ごとの該当率（全体との比） (flag rates by group, as ratios to the overall rate)</h2>
<p>見直すきっかけであり、判定ではありません。1から離れた比は、その集団が多く（少なく）掲載される理由を問いかけます。</p>
{html_table(["属性 dimension", "集団 group", "児童数 children", "現行ルール rules in force", "候補 candidate"], _fairness(summary), left=2)}
</body></html>
"""
