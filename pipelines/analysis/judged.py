"""Rules judged by caseworkers (outcomes.md): per signal, the share of reviewed listed children judged 要支援.
Shown by the rule lab's evaluation and by the 効果検証 report, from the same function."""

from __future__ import annotations

import polars as pl

CONFIDENCE = 0.95


def share_judged(reviews: pl.DataFrame, min_group: int) -> pl.DataFrame:
    """Per signal: the listed children with it whose (latest) review was 要支援, as a share with its Wilson 95 %
    interval (scipy's binomtest); a signal reviewed for fewer than ``min_group`` children is hidden, and so are the
    count, share and interval of 1 … min_group − 1 children judged 要支援. ``reviews``: child_token, reviewed_on,
    result, listed_signals (the signals the child had on the reviewed list)."""
    from scipy import stats  # imported here: the night imports this package, and needs no scipy

    latest = reviews.sort("reviewed_on").group_by("child_token").last()
    per_signal = latest.explode("listed_signals").group_by("listed_signals").agg(
        reviewed=pl.len(), judged=(pl.col("result") == "要支援").sum()).rename({"listed_signals": "signal"})
    rows = []
    for r in per_signal.sort("signal").iter_rows(named=True):
        if r["reviewed"] < min_group:
            rows.append({**r, "reviewed": None, "judged": None, "share": None, "ci_low": None, "ci_high": None})
            continue
        if 0 < r["judged"] < min_group:  # a small cell: the children judged 要支援, and what would give them away
            rows.append({**r, "judged": None, "share": None, "ci_low": None, "ci_high": None})
            continue
        ci = stats.binomtest(r["judged"], r["reviewed"]).proportion_ci(CONFIDENCE, method="wilson")
        rows.append({**r, "share": r["judged"] / r["reviewed"], "ci_low": ci.low, "ci_high": ci.high})
    return pl.DataFrame(rows, schema={"signal": pl.String, "reviewed": pl.Int64, "judged": pl.Int64, "share": pl.Float64,
                                      "ci_low": pl.Float64, "ci_high": pl.Float64})


HEADERS = ["シグナル", "確認された（人）", "要支援（人）", "割合", "95%区間（Wilson）"]


def table_rows(signals: list[dict], labels: dict[str, str]) -> list[list[str]]:
    """share_judged's rows as the reports show them: the signal's id and label, — where suppressed."""
    def cell(v, fmt="{}"):
        return "—" if v is None else fmt.format(v)

    return [[f"{s['signal'].upper()} {labels.get(s['signal'].upper(), '')}", cell(s["reviewed"]), cell(s["judged"]),
             cell(s["share"], "{:.0%}"), "—" if s["ci_low"] is None else f"{s['ci_low']:.0%} 〜 {s['ci_high']:.0%}"]
            for s in signals]
