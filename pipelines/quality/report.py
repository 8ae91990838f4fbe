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
from pipelines.core.charts import Charts
from pipelines.core.html import STYLE, html_table
from pipelines.outcomes.headline import latest_headline
from pipelines.quality.expectations import Outcome


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


def review_section(timeliness: pl.DataFrame, by_signals: pl.DataFrame, due_days: int) -> str:
    """Step ② in numbers: the work queue and timeliness per office, 要支援 per signal combination."""
    def share(n, d) -> str:
        return "-" if not d or n is None else f"{n / d:.0%}"

    def count(v) -> str:
        return "&lt;5" if v is None else f"{v:,}"

    office_rows = [[html.escape(str(r["office_code"])), f"{r['awaiting_tonight']:,}",
                    f'<span class="warn">{r["overdue_tonight"]:,}</span>' if r["overdue_tonight"] else "0",
                    f"{r['due_so_far']:,}", f"{r['reviewed_in_time']:,}", share(r["reviewed_in_time"], r["due_so_far"])]
                   for r in timeliness.iter_rows(named=True)]
    signal_rows = [[html.escape(r["signals"]), count(r["reviews"]), count(r["needs_support"]),
                    share(r["needs_support"], r["reviews"])] for r in by_signals.iter_rows(named=True)]
    return f"""<h2>Caseworkers' reviews (確認結果) and the work queue</h2>
<p>A child on the list awaits a caseworker's review; after {due_days} days without one it is overdue.</p>
{html_table(["office", "awaiting review tonight", "overdue tonight", "listings due so far",
         f"reviewed within {due_days} days", "share in time"], office_rows) if office_rows else "<p>No list yet.</p>"}
<p>Share judged 要支援 (needs support) by the signals the child had on the reviewed list; counts under 5 are
shown as &lt;5.</p>
{html_table(["signals on the reviewed list", "reviews", "要支援", "share"], signal_rows)
 if signal_rows else "<p>No review has come back yet.</p>"}"""


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
    return f"""<h2>Fairness of the rules in force, and re-identification risk</h2>
<p>Flag rates by group as ratios to the overall rate (outside {low}–{high} in orange): a prompt to look, never a
verdict. "-": a group too small to judge (fewer children than would give {threshold} flags at the overall rate),
or counts under {threshold} suppressed.</p>
{html_table(["属性 dimension", "集団 group", "児童数 children", "該当 flagged", "比 ratio"], rows, left=2)}
<p>child_indicators' quasi-identifiers ({e(", ".join(QUASI_IDENTIFIERS))}) single out
<b>{risk['unique_share']:.1%}</b> of {risk['children']:,} children; <b>{risk['under_k_share']:.1%}</b> are in groups of
fewer than {threshold}. Pseudonymised data (仮名加工情報) for use inside the municipality only; for research outside
it, `mimamori research extract` (匿名加工, k-anonymous by measurement).</p>"""


def rights_section(summary: dict) -> str:
    """Residents' rights in counts, and any user over the day's limit of re-identifications and reports."""
    e, rights = html.escape, summary.get("rights", {})
    rows = [[e(k), f"{v:,}"] for k, v in rights.get("people_set_aside", {}).items()]
    rows += [[e(f"rows set aside: {k}"), f"{v:,}"] for k, v in rights.get("rows_set_aside", {}).items()]
    rows += [["corrections (訂正) in force", f"{rights.get('corrections_active', 0):,}"],
             ["corrections applied tonight", f"{rights.get('corrections_applied_tonight', 0):,}"],
             ["corrections reflected in the department's own data tonight",
              e(", ".join(rights.get("corrections_reflected_tonight") or []) or "none")]]
    alerts = "".join(f'<li class="warn">{e(a["user"])}: {a["requests"]} re-identifications and disclosure reports '
                     f'on {e(a["day"])} (limit {a["limit"]} a day)</li>' for a in summary.get("access_alerts", []))
    return f"""<h2>Residents' rights (利用停止・訂正) and access (再識別・開示)</h2>
{html_table(["", "count"], rows)}
{f"<p>Access alerts:</p><ul>{alerts}</ul>" if alerts else "<p>No user went over the day's limit of re-identifications and disclosure reports.</p>"}"""


def guidance_section(g: dict) -> str:
    """The 児童相談所 list's linkage (no 宛名番号: linked by name, birth date, address): records per band."""
    if not g:
        return ""
    n = max(g["records"], 1)
    rows = [[label, f"{v:,}", f"{v / n:.1%}"] for label, v in (
        ("自動照合 linked automatically", g["auto"]), ("確認済 linked by the data team's decision", g["reviewed"]),
        ("照合確認へ to the data team's review", g["review"]), ("照合なし found in no resident", g["none"]))]
    return f"""<p>児童相談所の名簿 (the child guidance centre's list, jisou): {g['records']:,} records.
The pairs to review are in HOME/{html.escape(g['review_file'])} (owner-only).</p>
{html_table(["", "records", "share"], rows)}"""


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
    dept_rows = [[e(r["extract"]), f"{in_use.get(r['extract'], '-')}" + freshness(r["extract"]),
                  f"{r['rows']:,}", "-" if r["previous_rows"] is None else f"{r['row_change']:+.1%}",
                  f"{r['quarantined_rows']:,}"] for r in dept.iter_rows(named=True)]
    check_rows = [[e(o.check), '<span class="ok">passed</span>' if o.passed else '<span class="warn">FAILED</span>',
                   f'<span style="text-align:left">{e(o.message)}</span>'] for o in outcomes]
    reason_rows = [[e(x), e(r), f"{n:,}"] for (x, r), n in reasons.most_common(20)]
    link_rows = [[e(d), f"{u:,}", f"{t:,}", f"{rate:.1%}"]
                 for d, u, t, rate in zip(links["description"], links["unmatched"], links["total"], links["link_rate"])]
    flagged = summary.get("flagged", {})
    charts = charts or Charts()
    plots = [charts.bars(summary.get("by_domain", {}) or {"-": 0}, "該当児童 by domain (tonight)"),
             charts.bars(summary.get("by_office", {}) or {"-": 0}, "該当児童 by office (tonight)"),
             charts.trend(history, "flagged_children", "flagged children, last runs"),
             charts.trend(history, "rows", "rows per department, last runs"),
             charts.trend(history, "link_rate", "link rates, last runs")]
    docs = f'<p>Great Expectations Data Docs: <a href="{e(data_docs.as_uri())}">{e(str(data_docs))}</a></p>' \
        if data_docs else ""
    return f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>mimamori nightly report {as_of}</title>
<style>{STYLE}</style></head><body>
<h1>mimamori 見守り — nightly report, as of {as_of}</h1>
<p>Children in the population: <b>{summary.get('children', 0):,}</b>; flagged <b>{sum(flagged.values()):,}</b>
(新規 new {flagged.get('新規', 0):,}, 継続 continuing {flagged.get('継続', 0):,}); 解除 released
{summary.get('released', 0):,}. Rule version {e(str(summary.get('rule_version', '')))}.
This report holds counts only.</p>
{f"<p>判定していない項目 (not judged tonight, no usable data):</p><ul>{not_judged}</ul>" if not_judged else ""}
<h2>Departments: freshness and rows</h2>
{html_table(["extract", "data in use (extraction date)", "rows", "change", "quarantined tonight"], dept_rows)}
<h2>Quality checks (Great Expectations)</h2>
{html_table(["check", "result", "detail"], check_rows, left=3)}
{docs}
<h2>Quarantined rows by reason</h2>
{html_table(["extract", "reason", "rows"], reason_rows, left=2) if reason_rows else "<p>None tonight.</p>"}
<h2>Link rates</h2>
{html_table(["measure", "unmatched", "total", "linked"], link_rows)}
{guidance_section(summary.get("guidance_links", {}))}
{reviews}
{rights_section(summary)}
{effect}
<h2>Flagged children and trends</h2>
<div class="plots">{''.join(f'<figure>{p}</figure>' for p in plots)}</div>
</body></html>
"""
