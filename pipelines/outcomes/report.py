"""The 効果検証 page: the estimate per outcome and per domain, the trajectories, the rules judged by caseworkers,
and the assumptions, in Japanese for the people who decide about the programme."""

from __future__ import annotations

import html

import matplotlib.pyplot as plt
import polars as pl

from pipelines.analysis.judged import HEADERS, table_rows
from pipelines.core import config
from pipelines.core.charts import Charts
from pipelines.core.html import STYLE, html_table
from pipelines.outcomes.estimate import NEAREST, RESAMPLES, SAME_WEEKS_DAYS

RESULT_WORDS = {"higher": "高いほど良い", "lower": "低いほど良い"}


def _signed(v: float | None, scale: float = 1.0, digits: int = 3) -> str:
    return "—" if v is None else f"{v * scale:+.{digits}f}"


def _interval(low: float | None, high: float | None, scale: float = 1.0, digits: int = 3) -> str:
    return "—" if low is None else f"{low * scale:+.{digits}f} 〜 {high * scale:+.{digits}f}"


def _n(v: int, min_group: int) -> str:
    return f"{v}" if v >= min_group else f"{v}（{min_group}人未満: 表示せず）"


def plot(charts: Charts, trajectory: pl.DataFrame, window: int) -> str:
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    for group, colour in (("支援あり", "#c2410c"), ("比較", "#3e7cb1")):
        rows = trajectory.filter(pl.col("group") == group).sort("offset")
        if rows.is_empty():
            continue
        x = rows["offset"].to_list()
        ax.plot(x, rows["mean"].to_list(), marker="o", color=colour, label=f"{group}（平均）")
        ax.fill_between(x, rows["low"].fill_null(rows["mean"]).to_list(), rows["high"].fill_null(rows["mean"]).to_list(),
                        color=colour, alpha=0.15, label=f"{group}（95%区間）")
    ax.axvline(0, color="#52606d", linestyle="--", linewidth=1)
    ax.set_xticks(range(-window, window + 1))
    ax.set_xlabel("支援開始月からの月数（0 = 開始月）", fontsize=9)
    ax.set_ylabel("出席率", fontsize=9)
    ax.set_title("出席率の推移: 支援を受けた子どもと比較の子ども", fontsize=10)
    ax.tick_params(labelsize=8)
    if trajectory.is_empty():
        ax.text(0, 0.5, "比べられる子どもがいません", ha="center", fontsize=10, color="#52606d")
    else:
        ax.legend(fontsize=7, frameon=False)
    return charts.svg(fig)


def render(summary: dict, trajectory: pl.DataFrame) -> str:
    e, m = html.escape, summary["min_group"]
    charts = Charts()
    chart = plot(charts, trajectory, summary["window_months"])
    scale_of = {"attendance_rate": 100, "s1_fired": 100, "checkup_attended": 100, "on_list": 100}
    unit_of = {"attendance_rate": "ポイント", "s1_fired": "ポイント", "checkup_attended": "ポイント", "on_list": "ポイント",
               "days_absent": "日", "domain_count": "領域"}
    rows = []
    for name, o in summary["outcomes"].items():
        scale, digits = scale_of.get(name, 1), 1 if name in scale_of else 2
        unit = f" {unit_of[name]}"
        rows.append([e(o["label"]), e(RESULT_WORDS[o["better"]]),
                     "—" if o["estimate"] is None else _signed(o["estimate"], scale, digits) + unit,
                     _interval(o["ci_low"], o["ci_high"], scale, digits), _n(o["n_supported"], m), _n(o["n_comparison"], m),
                     "—" if o["naive"] is None else _signed(o["naive"], scale, digits) + unit])
    domain_rows = [[e(d["label"]), "—" if d["estimate"] is None else f"{_signed(d['estimate'], 100, 1)} ポイント",
                    _interval(d["ci_low"], d["ci_high"], 100, 1), _n(d["n_supported"], m), _n(d["n_comparison"], m)]
                   for d in summary["by_domain"].values()]
    labels = {k.upper(): v["label"] for k, v in config.rules()["signals"].items()}
    signal_rows = table_rows(summary["signals"], labels)
    missing = f'<p class="warn">グラフの文字のうちフォントにないもの: {e(", ".join(charts.missing))}</p>' \
        if charts.missing else ""
    return f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>効果検証 {e(summary['as_of'])}</title>
<style>{STYLE}td,th{{white-space:nowrap}}</style></head><body>
<h1>効果検証 — 支援は役に立ったか（{e(summary['as_of'])} 時点）</h1>
<p>リストに載った子ども {summary['children_listed']}人のうち、ケースワーカーの確認で「要支援」となった子ども
{summary['children_supported']}人について、支援の開始（最初の「要支援」の確認日）の前後 {summary['window_months']}か月を、
同じ時期にリストに載り支援を受けなかった子ども（「見守り」または未確認）と比べました（差の差の推定）。
分析用の仮名化データだけを使い、宛名番号・氏名は含みません。{m}人未満の組は表示しません。</p>
<h2>結果（成果ごと）</h2>
{html_table(["成果", "向き", "推定された効果", "95%区間", "支援あり（人）", "比較（人）", "参考: 支援ありの前後差だけ"], rows)}
<p>「参考: 支援ありの前後差だけ」は、比較なしに支援を受けた子どもの前後を比べた値です。リストに載るのは状態が悪い時期なので、
支援がなくても多くの子どもは戻ります（平均への回帰）。この値が推定より大きいほど、比較なしの評価は効果を大きく見せます。</p>
<h2>出席率の推移（月ごと）</h2>
<figure>{chart}<figcaption>開始月より前の月で二つの線が平行に動いていれば、比較の前提（平行トレンド）がもっともらしいと言えます。
帯は各月の平均の95%区間です。</figcaption></figure>
{missing}
<h2>フラグの領域ごと（出席率）</h2>
{html_table(["リストに載ったときの領域", "推定された効果", "95%区間", "支援あり（人）", "比較（人）"], domain_rows)}
<h2>ルールをケースワーカーの判断で見る（シグナルごと）</h2>
<p>そのシグナルでリストに載り、確認が返ってきた子どものうち「要支援」と判断された割合（最新の確認）。{m}人未満のシグナルは「—」です。</p>
{html_table(HEADERS, signal_rows) if signal_rows else "<p>確認はまだ返ってきていません。</p>"}
<h2>前提と限界</h2>
<ul>
<li>無作為化されていません。支援するかどうかはケースワーカーが判断しており、データにない理由（家庭の事情など）で
選ばれていれば、推定は偏ります。</li>
<li>比較の子どもは、同じ時期（{SAME_WEEKS_DAYS}日以内）に初めてリストに載り、期間中に支援を受けなかった子どもです。年齢帯・リストに載った
ときの領域・開始前の月の出席率（学校に通っていない子どもはその成果の値）が近い順に {NEAREST}人まで選びます（同じ子どもを何度使ってもよい）。</li>
<li>前提は平行トレンド（支援がなければ、両方の組は同じように変化した）です。上のグラフの開始前の月で確かめてください。</li>
<li>95%区間はブートストラップ（支援ありと比較の子どもをそれぞれ選び直し、そのたびに比較を選び直す、{RESAMPLES}回）です。
区間が0をまたぐときは、効果があったともなかったとも言えません。</li>
<li>開始月そのものは、支援が月の途中から始まるため前にも後にも数えません。終わっていない月（今月）も数えません。</li>
</ul>
</body></html>
"""
