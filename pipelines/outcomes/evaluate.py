"""`mimamori outcomes evaluate`: the 効果検証 of the list, from the analysts' pseudonymised store only.

Writes HOME/reports/outcomes/<as-of>/evaluation.{html,json}: per outcome the matched difference in
differences with its bootstrap 95 % interval and the n of each group, per domain of the flag, the naive
before/after beside it, and per signal the share of reviewed children judged 要支援 (outcomes.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from pipelines.analysis.judged import share_judged
from pipelines.core import config
from pipelines.core.home import Home
from pipelines.outcomes.estimate import DOMAINS, Panel, design, estimate, strata, trajectories
from pipelines.outcomes.headline import HEADLINE

# outcome_months' columns: the Japanese words the report uses, and which way is better
OUTCOMES = {
    "attendance_rate": ("出席率（月）", "higher"),
    "days_absent": ("欠席日数（月）", "lower"),
    "s1_fired": ("月間欠席（S1）に該当", "lower"),
    "checkup_attended": ("健診の受診（予定の月）", "higher"),
    "domain_count": ("該当する領域の数", "lower"),
    "on_list": ("リストに載っている", "lower"),
}
DOMAIN_WORDS = {"economic": "経済", "care": "養育", "school": "学校", "health": "健康"}


@dataclass
class OutcomeEvaluation:
    folder: Path
    summary: dict

    @property
    def headline(self) -> str:
        h = self.summary["outcomes"][HEADLINE]
        if h["estimate"] is None:
            return (f"outcomes: {OUTCOMES[HEADLINE][0]} — too few children to say (supported {h['n_supported']}, "
                    f"comparison {h['n_comparison']}; fewer than {self.summary['min_group']} are not shown)")
        return (f"outcomes: estimate {h['estimate']:+.4f} ci [{h['ci_low']:+.4f}, {h['ci_high']:+.4f}] "
                f"n_supported {h['n_supported']} n_comparison {h['n_comparison']} "
                f"(naive before/after {h['naive']:+.4f})")


def _store(home: Path) -> Path:
    store = Home(home).analysis_store
    if not store.exists():
        raise FileNotFoundError(f"no analysts' store at {store}: run a night first")
    return store


def load(con: duckdb.DuckDBPyConnection, as_of: date | None) -> tuple[date, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(as-of, children, months, reviews) from the analysts' store: every child ever listed with the first
    night it was listed, its support start, its age and domains on that night; the monthly outcomes."""
    tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
    if "outcome_months" not in tables:
        raise FileNotFoundError("the analysts' store has no outcome_months yet: run a night with this version first")
    latest = con.execute("select max(as_of) from child_indicators").fetchone()[0]
    as_of = as_of or latest
    months = con.execute("""
        select child_token, month, attendance_rate, days_absent::double as days_absent, s1_fired::int as s1_fired,
               checkups_attended / nullif(checkups_due, 0) as checkup_attended, domain_count::double as domain_count,
               on_list::int as on_list
        from outcome_months where month <= strftime(?::date, '%Y-%m')""", [as_of]).pl()
    children = con.execute(f"""
        with listed as (
            select distinct child_token, first_listed, support_start from outcome_months
            where first_listed is not null and first_listed <= $as_of
        )
        select l.child_token, l.first_listed,
               case when l.support_start <= $as_of then l.support_start end as support_start, c.age,
               {', '.join(f'c.domain_{d}' for d in DOMAINS)}
        from listed l join child_indicators c on c.child_token = l.child_token and c.as_of = l.first_listed""",
                           {"as_of": as_of}).pl()
    reviews = con.execute("select child_token, reviewed_on, result, listed_signals from review_outcomes "
                          "where reviewed_on <= ?", [as_of]).pl() if "review_outcomes" in tables else \
        pl.DataFrame(schema={"child_token": pl.String, "reviewed_on": pl.Date, "result": pl.String,
                             "listed_signals": pl.List(pl.String)})
    return as_of, strata(children), months, reviews


def evaluate_outcomes(home: Path, window_months: int = 3, as_of: date | None = None, seed: int = 0) -> OutcomeEvaluation:
    """The evaluation of the store as it stands (or as of a past night); the folder and the summary."""
    from pipelines.outcomes.report import render

    if window_months < 1:
        raise ValueError(f"the window must be at least one month either side of the start, not {window_months}")
    min_group = max(5, config.governance()["small_cell_threshold"])
    con = duckdb.connect(str(_store(home)), read_only=True)
    try:
        as_of, children, months, reviews = load(con, as_of)
    finally:
        con.close()
    panel = Panel(children, months, window_months, date(as_of.year, as_of.month, 1))
    supported = children.filter(pl.col("support_start").is_not_null())
    outcomes, by_domain, plots = {}, {}, {}
    for outcome in OUTCOMES:
        d = design(panel, outcome, supported)
        outcomes[outcome] = {"label": OUTCOMES[outcome][0], "better": OUTCOMES[outcome][1],
                             **estimate(d, min_group, seed=seed).as_dict()}
        if outcome == HEADLINE:
            domains = dict(zip(supported["child_token"], supported.select(
                pl.concat_list([pl.when(pl.col(f"domain_{k}")).then(pl.lit(k)) for k in DOMAINS]).list.drop_nulls()
            ).to_series()))
            for domain in DOMAINS:
                subset = [i for i, t in enumerate(d.supported) if domain in domains[t]]
                by_domain[domain] = {"label": DOMAIN_WORDS[domain], **estimate(d, min_group, subset, seed).as_dict()}
            plots[outcome] = trajectories(panel, outcome, supported)
    signals = share_judged(reviews, min_group)
    summary = {
        "as_of": as_of.isoformat(), "window_months": window_months, "min_group": min_group,
        "children_listed": children.height, "children_supported": supported.height,
        "outcomes": outcomes, "by_domain": by_domain,
        "signals": signals.to_dicts(),
    }
    folder = Home(home).outcomes_evaluation(as_of)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "evaluation.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2, default=str) + "\n",
                                            encoding="utf-8")
    (folder / "evaluation.html").write_text(render(summary, plots[HEADLINE]), encoding="utf-8")
    return OutcomeEvaluation(folder, summary)
