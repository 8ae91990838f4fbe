"""The latest 効果検証's headline for the nightly report: read from its evaluation.json, nothing recomputed (and
none of the statistics' imports in the night)."""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.core.home import Home

HEADLINE = "attendance_rate"  # the outcome the headline speaks of


def latest_headline(home: Path) -> tuple[str, Path] | None:
    """The newest evaluation's headline sentence, in Japanese, and its html; None before any evaluation."""
    root = Home(home).outcomes_evaluations
    found = sorted(root.glob("*/evaluation.json")) if root.exists() else []
    if not found:
        return None
    summary = json.loads(found[-1].read_text(encoding="utf-8"))
    h = summary["outcomes"][HEADLINE]
    if h["estimate"] is None:
        text = (f"{summary['as_of']} 時点の効果検証: 比べられる子どもが少なく（支援 {h['n_supported']}人・比較 "
                f"{h['n_comparison']}人）、効果の推定は示していません。")
    else:
        text = (f"{summary['as_of']} 時点の効果検証: 支援開始後の出席率の変化は、同じ時期にリストに載った比較の子どもより "
                f"{h['estimate'] * 100:+.1f} ポイント（95%区間 {h['ci_low'] * 100:+.1f}〜{h['ci_high'] * 100:+.1f}、"
                f"支援 {h['n_supported']}人・比較 {h['n_comparison']}人）。")
    return text, found[-1].with_name("evaluation.html")
