"""Did the support help? The statistics of 効果検証 (../shared/spec/outcomes.md), on plain frames.

A supported child (a 要支援 review; its start is the review's 確認日) is compared with children first listed in
the same weeks who were not supported within the window (reviewed 見守り, or not yet reviewed): matched on age
band, the flag's domains, and the attendance rate in the months before the start (the k nearest; the
outcome's own months before for a child with no school months). The estimate is a
difference in differences — (after − before) of the supported child, less the mean (after − before) of its
matched comparison — averaged over supported children; months are calendar months relative to the start's
month (before: −N … −1, after: +1 … +N; the start's own month, half treated, in neither). Its 95 % interval is
scipy's bootstrap (percentile), resampling the supported children and the comparison pool independently and
matching again in each resample, so that the interval carries the matching's own uncertainty.

Comparing with flagged children, not with everyone, is what keeps regression to the mean (children flagged
at a bad moment improve anyway) out of the estimate; the supported children's own before/after is computed
beside it to show how much that would overstate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl
from scipy import stats

from pipelines.analysis.judged import CONFIDENCE

NEAREST = 3  # comparison children per supported child
MATCH_ON = "attendance_rate"  # the months before that comparison children are matched on (outcomes.md)
SAME_WEEKS_DAYS = 14  # first listed within this many days of the supported child: "the same weeks"
RESAMPLES = 1999
AGE_BANDS = [(0, 5), (6, 11), (12, 14), (15, 17)]  # 未就学, 小学生, 中学生, 15〜17歳
DOMAINS = ("economic", "care", "school", "health")


def age_band(age: int | None) -> int:
    return next((i for i, (lo, hi) in enumerate(AGE_BANDS) if age is not None and lo <= age <= hi), len(AGE_BANDS))


def month_index(d: date) -> int:
    return d.year * 12 + d.month - 1


@dataclass(frozen=True)
class Estimate:
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    n_supported: int
    n_comparison: int
    naive: float | None  # the supported children's own after − before
    naive_ci_low: float | None
    naive_ci_high: float | None
    unmatched: int  # supported children with no comparison child of their stratum
    suppressed: bool = False

    def as_dict(self) -> dict:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


class Panel:
    """Children (token, first night listed, support start, age band, the flag's domains) and their months
    (token, month, outcome values), indexed for matching."""

    def __init__(self, children: pl.DataFrame, months: pl.DataFrame, window: int, last_month: date):
        self.window, self.last = window, month_index(last_month)
        self.children = children
        # months as the analysts' store writes them, '2026-10'
        months = months.with_columns(index=pl.col("month").str.slice(0, 4).cast(pl.Int64) * 12
                                     + pl.col("month").str.slice(5, 2).cast(pl.Int64) - 1)
        self.by_child = {token[0]: frame for token, frame in months.group_by("child_token")}

    def before(self, token: str, start: int, outcome: str) -> float | None:
        """The outcome's mean over the months before ``start``, or None."""
        frame = self.by_child.get(token)
        if frame is None:
            return None
        values = frame.filter(pl.col(outcome).is_not_null() & (pl.col("index") - start).is_between(-self.window, -1))
        return float(values[outcome].cast(pl.Float64).mean()) if values.height else None

    def before_after(self, token: str, start: int, outcome: str) -> tuple[float, float] | None:
        """The outcome's mean over the months before and after ``start`` (a month index), or None when either
        side has no value (no school month, or the after months not yet complete)."""
        frame = self.by_child.get(token)
        if frame is None:
            return None
        values = frame.filter(pl.col(outcome).is_not_null() & (pl.col("index") < self.last))
        offset = values["index"] - start
        before = values.filter((offset >= -self.window) & (offset <= -1))[outcome]
        after = values.filter((offset >= 1) & (offset <= self.window))[outcome]
        if before.len() == 0 or after.len() == 0:
            return None
        return float(before.cast(pl.Float64).mean()), float(after.cast(pl.Float64).mean())


def strata(children: pl.DataFrame) -> pl.DataFrame:
    return children.with_columns(
        band=pl.col("age").map_elements(age_band, return_dtype=pl.Int64),
        domain_key=pl.concat_str([pl.col(f"domain_{d}").cast(pl.Int8).cast(pl.String) for d in DOMAINS]))


@dataclass
class Design:
    """Per supported child: its (after − before), and its candidates sorted by distance of the before value,
    each with its own (after − before) over the same months."""

    supported: list[str]
    changes: np.ndarray  # per supported child
    candidates: list[np.ndarray]  # indices into comparison, nearest first
    candidate_changes: list[np.ndarray]
    comparison: list[str]
    unmatched: int


def design(panel: Panel, outcome: str, supported: pl.DataFrame) -> Design:
    """Matching for one outcome: the comparison pool of each supported child, nearest first."""
    children = panel.children
    pool = children.filter(pl.col("first_listed").is_not_null())
    comparison = pool["child_token"].to_list()
    position = {t: i for i, t in enumerate(comparison)}
    kept, changes, candidates, candidate_changes, unmatched = [], [], [], [], 0
    for s in supported.iter_rows(named=True):
        start = month_index(s["support_start"])
        own = panel.before_after(s["child_token"], start, outcome)
        if own is None:
            continue
        window_end = date(s["support_start"].year + (s["support_start"].month + panel.window) // 12,
                          (s["support_start"].month + panel.window) % 12 + 1, 1)
        near = pool.filter(
            (pl.col("child_token") != s["child_token"]) & (pl.col("band") == s["band"])
            & ((pl.col("first_listed") - s["first_listed"]).dt.total_days().abs() <= SAME_WEEKS_DAYS)
            & (pl.col("support_start").is_null() | (pl.col("support_start") >= window_end)))
        same_domains = near.filter(pl.col("domain_key") == s["domain_key"])
        near = same_domains if same_domains.height else near
        found = [(t, panel.before_after(t, start, outcome)) for t in near["child_token"]]
        found = [(t, ba) for t, ba in found if ba is not None]
        if not found:
            unmatched += 1
            continue
        # nearest on the attendance rate before the start (outcomes.md); on the outcome's own months before
        # for a child with no school months (an infant's check-ups)
        key = panel.before(s["child_token"], start, MATCH_ON)
        if key is None:
            distance = {t: abs(ba[0] - own[0]) for t, ba in found}
        else:
            theirs = {t: panel.before(t, start, MATCH_ON) for t, _ in found}
            distance = {t: float("inf") if v is None else abs(v - key) for t, v in theirs.items()}
        found.sort(key=lambda item: (distance[item[0]], item[0]))
        kept.append(s["child_token"])
        changes.append(own[1] - own[0])
        candidates.append(np.array([position[t] for t, _ in found]))
        candidate_changes.append(np.array([ba[1] - ba[0] for _, ba in found]))
    return Design(kept, np.array(changes), candidates, candidate_changes, comparison, unmatched)


def did(d: Design, supported_index: np.ndarray, comparison_index: np.ndarray) -> float:
    """The matched difference in differences for one (re)sample: supported children by index (repeats allowed),
    the comparison pool's children by index (a child drawn twice fills two of the k places)."""
    weight = np.bincount(comparison_index, minlength=len(d.comparison))
    effects = []
    for i in supported_index:
        slots = np.repeat(d.candidate_changes[i], weight[d.candidates[i]])[:NEAREST]
        if slots.size:
            effects.append(d.changes[i] - slots.mean())
    return float(np.mean(effects)) if effects else np.nan


def estimate(d: Design, min_group: int, subset: list[int] | None = None, seed: int = 0) -> Estimate:
    """The estimate with its bootstrap interval, and the naive before/after beside it, over all supported
    children of the design or a ``subset`` of them (one domain of the flag); None figures (and ``suppressed``)
    when either group has fewer than ``min_group`` children."""
    chosen = np.arange(len(d.supported)) if subset is None else np.array(list(subset), dtype=int)
    n_sup = len(chosen)
    n_comp = len({int(c) for i in chosen for c in d.candidates[i][:NEAREST]})
    if n_sup < min_group or n_comp < min_group:
        return Estimate(None, None, None, n_sup, n_comp, None, None, None, d.unmatched, suppressed=True)
    rng = np.random.default_rng(seed)
    pool = np.arange(len(d.comparison))
    point = did(d, chosen, pool)
    interval = stats.bootstrap((chosen, pool), lambda s, c: did(d, s, c), vectorized=False, paired=False,
                               n_resamples=RESAMPLES, confidence_level=CONFIDENCE, method="percentile",
                               rng=rng).confidence_interval
    changes = d.changes[chosen]
    naive = stats.bootstrap((changes,), np.mean, n_resamples=RESAMPLES, confidence_level=CONFIDENCE,
                            method="percentile", rng=rng).confidence_interval
    return Estimate(point, float(interval.low), float(interval.high), n_sup, n_comp, float(changes.mean()),
                    float(naive.low), float(naive.high), d.unmatched)


def trajectories(panel: Panel, outcome: str, supported: pl.DataFrame) -> pl.DataFrame:
    """Mean of the outcome by month relative to the start (−N … +N), for the supported children and for their
    matched comparison (its months counted from the supported child's start), with a t interval at CONFIDENCE: the
    months before are where parallel trends can be seen, or not."""
    d = design(panel, outcome, supported)
    rows = []
    starts = dict(zip(supported["child_token"], supported["support_start"]))
    for i, token in enumerate(d.supported):
        start = month_index(starts[token])
        for group, members in (("支援あり", [token]), ("比較", [d.comparison[c] for c in d.candidates[i][:NEAREST]])):
            for member in members:
                frame = panel.by_child.get(member)
                values = frame.filter(pl.col(outcome).is_not_null() & (pl.col("index") < panel.last))
                for index, value in zip(values["index"], values[outcome]):
                    offset = index - start
                    if -panel.window <= offset <= panel.window:
                        rows.append((group, offset, float(value)))
    frame = pl.DataFrame(rows, schema={"group": pl.String, "offset": pl.Int64, "value": pl.Float64}, orient="row")
    summary = frame.group_by("group", "offset").agg(mean=pl.col("value").mean(), sd=pl.col("value").std(),
                                                     n=pl.len()).sort("group", "offset")
    half = [float(stats.t.ppf((1 + CONFIDENCE) / 2, n - 1) * sd / np.sqrt(n)) if n > 1 and sd is not None else None
            for n, sd in zip(summary["n"], summary["sd"])]
    return summary.with_columns(low=pl.col("mean") - pl.Series(half, dtype=pl.Float64),
                                high=pl.col("mean") + pl.Series(half, dtype=pl.Float64))
