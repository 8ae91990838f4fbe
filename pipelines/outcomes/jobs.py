"""効果検証 in the UI, like the rule lab's job: it reads the analysts' store and writes
HOME/reports/outcomes/<as-of>/evaluation.{html,json}; nothing in production changes."""

from datetime import date

import dagster as dg

from pipelines.core.resources import MimamoriHome
from pipelines.outcomes.evaluate import HEADLINE, evaluate_outcomes


class OutcomeWindow(dg.Config):
    window_months: int = 3  # months either side of the support start
    as_of: str = ""  # a past night (YYYY-MM-DD); empty: the latest night in the analysts' store


@dg.op(description="The matched difference in differences of the monthly outcomes, with bootstrap intervals.")
def evaluate_support_outcomes(context: dg.OpExecutionContext, config: OutcomeWindow, home: MimamoriHome) -> None:
    result = evaluate_outcomes(home.root, config.window_months, date.fromisoformat(config.as_of) if config.as_of else None)
    h = result.summary["outcomes"][HEADLINE]
    context.log.info(f"{result.headline}: {result.folder / 'evaluation.html'}")
    context.log_event(dg.AssetObservation(asset_key=["analysis", "outcome_months"], metadata={
        "evaluation": dg.MetadataValue.path(str(result.folder / "evaluation.html")),
        "estimate": h["estimate"] if h["estimate"] is not None else float("nan"),
        "ci_low": h["ci_low"] if h["ci_low"] is not None else float("nan"),
        "ci_high": h["ci_high"] if h["ci_high"] is not None else float("nan"),
        "n_supported": h["n_supported"], "n_comparison": h["n_comparison"]}))


@dg.job(name="evaluate_outcomes", description="分析主体 効果検証: did the support help? (config: window_months, as_of)")
def evaluate_outcomes_job():
    evaluate_support_outcomes()
