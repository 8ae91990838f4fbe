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


def _signal_labels() -> dict[str, str]:
    return {k.upper(): v["label"] for k, v in config.rules()["signals"].items()}


def render_evaluation(summary: dict, candidate_path: Path) -> str:
    e = html.escape
    cur, cand = summary["current"], summary["candidate"]
    reviews = summary["reviews"]
    totals = [["flagged children", _n(cur["flagged"]), _n(cand["flagged"])],
              ["added by the candidate", "", _n(summary["added"])],
              ["removed by the candidate", "", _n(summary["removed"])],
              ["resting only on other household members' records",
               f"{_n(cur['resting_only_on_others'])} ({cur['resting_only_on_others_share'] or 0:.0%})",
               f"{_n(cand['resting_only_on_others'])} ({cand['resting_only_on_others_share'] or 0:.0%})"]]
    review_rows = [] if not reviews.get("reviewed_children") else [
        [e(k), _n(reviews["current"][k]), _n(reviews["candidate"][k])]
        for k in ("flagged_and_reviewed", "judged_needs_support", "needs_support_share",
                  "reviewed_no_concern_still_flagged")]
    return f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>rule evaluation {e(str(cand['version']))}</title>
<style>{STYLE}</style></head><body>
<h1>ルール案の評価 — candidate {e(str(cand['version']))} against {e(str(cur['version']))}</h1>
<p>Children of the night of {e(str(summary['as_of']))}: {summary['children']:,}. Candidate rules: {e(str(candidate_path))}.
Computed on the analysts' pseudonymised store by the same rule macros as the nightly list; nothing in production
was changed. Counts under 5 are shown as &lt;5.</p>
<h2>The list</h2>
{html_table(["", "rules in force", "candidate"], totals)}
<h2>By domain</h2>
{html_table(["domain", "rules in force", "candidate"], _side_by_side(cur["by_domain"], cand["by_domain"]))}
<h2>By office</h2>
{html_table(["office", "rules in force", "candidate"], _side_by_side(cur["by_office"], cand["by_office"]))}
<h2>Children per signal</h2>
{html_table(["signal", "rules in force", "candidate"], _side_by_side(cur["by_signal"], cand["by_signal"]))}
<h2>Agreement with caseworkers' reviews</h2>
{html_table(["", "rules in force", "candidate"], review_rows) if review_rows else "<p>No review has come back yet.</p>"}
<h2>要支援と判断された割合（シグナルごと） — rules judged by caseworkers</h2>
<p>Per signal on the reviewed list: the children reviewed, those judged 要支援, the share and its Wilson 95 % interval
(latest review per child; fewer than 5 shown as —). The same table is in the 効果検証 report.</p>
{html_table(HEADERS, table_rows(summary["signals_judged"], _signal_labels())) if summary["signals_judged"] else "<p>No review has come back yet.</p>"}
<h2>Flag rates by group, as ratios to the overall rate</h2>
<p>A prompt to look, never a verdict: a ratio far from 1 asks why a group is flagged more or less often.</p>
{html_table(["属性 dimension", "集団 group", "児童数 children", "現行ルール rules in force", "候補 candidate"], _fairness(summary), left=2)}
</body></html>
"""
