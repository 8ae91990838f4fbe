"""The analysts' marts (分析主体) in warehouse/analysis.duckdb: pseudonymised and aggregated only."""

import dagster as dg
import polars as pl

from pipelines.analysis.lab import child_measures, outside_band, rate_ratios
from pipelines.analysis.marts import (
    build_outcome_months,
    child_indicators,
    connect_analysis,
    delete_history,
    household_indicators,
    month_records,
    night_tokens,
    publish,
    replace_whole,
    review_outcomes,
    school_karte,
    tokenizer,
    withdrawn_people,
)
from pipelines.core import config
from pipelines.core.failpoints import failpoint
from pipelines.core.resources import MimamoriHome, NightLock, run_as_of
from pipelines.core.store import connect

SPECS = [
    dg.AssetSpec(["analysis", "child_indicators"], description="One row per child and night: token, age, sex, "
                 "town, school, every signal, domains, flagged, supported. History kept across nights."),
    dg.AssetSpec(["analysis", "household_indicators"], description="One row per household with children and "
                 "night, under the household's token."),
    dg.AssetSpec(["analysis", "school_karte"], description="Per school and grade (grade 0 = the school in all): "
                 "pupils, absence rate, children with each domain; small cells suppressed, complementary too."),
    dg.AssetSpec(["analysis", "child_measures"], description="One row per child and night: the numbers behind "
                 "every signal (days since, counts, ratios, the household's programmes and tax as flags, household "
                 "size and type), for the lab (`mimamori rules evaluate`). No dates of birth, facts or codes."),
    dg.AssetSpec(["analysis", "fairness_nightly"], description="Per night, flag rates by sex, age band, town and "
                 "household type as ratios to the overall rate (small cells suppressed): a prompt to look."),
]
FAIRNESS_CHECK = dg.AssetCheckSpec("fairness_within_band", asset=["analysis", "fairness_nightly"],
                                   description="Every group's flag rate within the configured band of the overall "
                                   "rate (governance.yml fairness_band): a prompt to look, never a verdict.")
REVIEW_OUTCOMES = dg.AssetSpec(["analysis", "review_outcomes"], description="Every caseworker's review under the "
                               "child's token: the reviewed list's date, the review's date, office and rule version, "
                               "days from first listing to review, the result, the signals on that list. No staff code.")
OUTCOME_MONTHS = dg.AssetSpec(["analysis", "outcome_months"], description="効果検証: one row per child and month: "
                              "attendance rate, days absent, check-ups due and attended, S1, domain count, on the list; "
                              "the support start (first 要支援) and the first night listed. Rebuilt whole each night.")


@dg.multi_asset(
    specs=[s.replace_attributes(
        group_name="analysis_marts", kinds={"duckdb"}, tags={"role": "analysis"},
        deps=[dg.AssetKey(["marts", "child_signals"]), dg.AssetKey(["intermediate", "int_pupils"]),
              dg.AssetKey(["staging", "stg_school__attendance"]), dg.AssetKey(["rights", "applied"])]) for s in SPECS]
    + [REVIEW_OUTCOMES.replace_attributes(group_name="analysis_marts", kinds={"duckdb"}, tags={"role": "analysis"},
                                          deps=[dg.AssetKey(["raw", "reviews"]), dg.AssetKey(["marts", "listing_runs"])]),
       OUTCOME_MONTHS.replace_attributes(group_name="analysis_marts", kinds={"duckdb"}, tags={"role": "analysis"},
                                         deps=[dg.AssetKey(["staging", "stg_health__checkups"]),
                                               dg.AssetKey(["staging", "stg_school__attendance"])])],
    check_specs=[FAIRNESS_CHECK],
)
def analysis_marts(context: dg.AssetExecutionContext, home: MimamoriHome, night_lock: NightLock):
    as_of = run_as_of(context)
    gov = config.governance()
    token = tokenizer(home.root, gov["purpose"])
    with connect(home.root, read_only=True) as restricted:
        ids = night_tokens(restricted, token, as_of)
        children = child_indicators(restricted, ids, as_of)
        karte = school_karte(restricted, children, as_of, gov["small_cell_threshold"])
        measures = child_measures(restricted, ids, as_of)
        reviews = review_outcomes(restricted, token)
        records = month_records(restricted, ids, as_of)
        withdrawn = withdrawn_people(restricted, token, as_of)
    households = household_indicators(children)
    fairness = rate_ratios(measures, "is_flagged", gov["small_cell_threshold"]).with_columns(
        as_of=pl.lit(as_of), rule_version=pl.lit(config.rules()["version"]))
    frames = (children, households, karte, measures, fairness)
    with connect_analysis(home.root) as con:
        deleted = delete_history(con, withdrawn)
        if deleted:
            home.audit.append("analysis_history_deleted", people=len(withdrawn["child"]), rows=deleted,
                              run_id=context.run_id)
        for spec, frame in zip(SPECS, frames):
            publish(con, spec.key.path[-1], frame, as_of)
            failpoint("analysis_marts")  # crash tests: killed between two of the analysts' tables
        if reviews.width:
            replace_whole(con, "review_outcomes", reviews)
        months = build_outcome_months(con, records)
    outside = outside_band(fairness, gov["fairness_band"])
    for spec, frame in zip(SPECS, frames):
        checks = [dg.AssetCheckResult(
            check_name="fairness_within_band", passed=outside.is_empty(), severity=dg.AssetCheckSeverity.WARN,
            description=None if outside.is_empty() else "flag rate ratios outside {}–{} (a prompt to look): ".format(
                *gov["fairness_band"]) + ", ".join(f"{r['dimension']} {r['group']}: {r['ratio']}"
                                                   for r in outside.iter_rows(named=True)),
            metadata={"outside_band": dg.MetadataValue.json(
                outside.select("dimension", "group", "ratio").to_dicts())})] if spec.key.path[-1] == \
            "fairness_nightly" else []
        yield dg.MaterializeResult(asset_key=spec.key, check_results=checks, metadata={
            "as_of": as_of.isoformat(), "rows": frame.height, "store": dg.MetadataValue.path(
                str(home.layout.analysis_store)),
            "token_purpose": gov["purpose"], "small_cell_threshold": gov["small_cell_threshold"]})
    yield dg.MaterializeResult(asset_key=REVIEW_OUTCOMES.key, metadata={"reviews": reviews.height})
    yield dg.MaterializeResult(asset_key=OUTCOME_MONTHS.key, metadata={"rows": months})
