"""The analysts' lab in the UI: a job an analyst launches with the path of a candidate rules file; it
writes HOME/reports/rules/<version>/evaluation.{html,json} and changes nothing in production."""

import dagster as dg

from pipelines.analysis.lab import evaluate
from pipelines.core.resources import MimamoriHome


class CandidateRules(dg.Config):
    rules_path: str  # a rules.yml with its own version, e.g. /srv/mimamori/candidates/three-domains.yml


@dg.op(description="The candidate rules against the rules in force, on the latest night's pseudonymised measures.")
def evaluate_candidate_rules(context: dg.OpExecutionContext, config: CandidateRules, home: MimamoriHome) -> None:
    from pathlib import Path

    result = evaluate(home.root, Path(config.rules_path))
    s = result.summary
    context.log.info(f"rules in force {s['current']['flagged']} flagged, candidate {s['candidate']['flagged']}; "
                     f"added {s['added']}, removed {s['removed']}: {result.folder / 'evaluation.html'}")
    context.log_event(dg.AssetObservation(asset_key=["analysis", "child_measures"], metadata={
        "evaluation": dg.MetadataValue.path(str(result.folder / "evaluation.html")),
        "candidate_version": str(s["candidate"]["version"]), "current_flagged": s["current"]["flagged"],
        "candidate_flagged": s["candidate"]["flagged"], "added": s["added"] if s["added"] is not None else -1,
        "removed": s["removed"] if s["removed"] is not None else -1}))


@dg.job(description="分析主体: try a candidate rule set (config: rules_path) before it goes live. Counts only.")
def evaluate_rules():
    evaluate_candidate_rules()
