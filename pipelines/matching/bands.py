"""From scored candidate pairs to one decision per record: the three bands of linkage.md.

- link: the best candidate is likely enough (≥ link_probability) and no second candidate comes near it
  (a twin, a same-name child: within ambiguous_weight_margin of match weight) — or the data team said 同一
  for this pair and neither record has changed since;
- review: the best candidate is possible (≥ review_probability) but not certain, or is crowded;
- none: no candidate is possible (a child not, or no longer, in the registry; a wrong record).

A pair the data team called 別人 is never linked again. One record links to at most one person.
"""

from __future__ import annotations

import json

import polars as pl

from pipelines.matching.model import COMPARED, LEVEL_LABELS, Thresholds

LINK, REVIEW, NONE = "link", "review", "none"
SAME, DIFFERENT = "同一", "別人"
DECISIONS = pl.Schema({"case_number": pl.String, "address_code": pl.String, "decision": pl.String,
                       "pair_hash": pl.String})


def explanation(row: dict) -> str:
    """Each comparison's level in words and its contribution to the match weight (log2 of its Bayes
    factor, Splink's mw_), as JSON: {"name": ["氏名・カナとも一致", 11.2], …}."""
    out = {}
    for c in COMPARED:
        gamma, weight = row[f"level_{c}"], row[f"weight_{c}"]
        labels = LEVEL_LABELS[c]
        label = "記載なし" if gamma is None or gamma < 0 else labels[len(labels) - 1 - gamma]
        out[c] = [label, round(weight or 0.0, 1)]
    return json.dumps(out, ensure_ascii=False)


def decide(cases: pl.DataFrame, pairs: pl.DataFrame, thresholds: Thresholds,
           decisions: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per record of ``cases`` (unique_id, pair_hash per candidate in ``pairs``): band,
    address_code (the linked person, or the candidate put to review), probability, weight, method
    (自動 / 確認済), explanation, and the runner-up's weight."""
    if pairs.is_empty():  # no record met any resident: every one is 'none'
        return cases.select(case_number="unique_id", band=pl.lit(NONE), address_code=pl.lit(None, pl.String),
                            match_probability=pl.lit(None, pl.Float64), match_weight=pl.lit(None, pl.Float64),
                            method=pl.lit(None, pl.String), explanation=pl.lit(None, pl.String),
                            runner_up_weight=pl.lit(None, pl.Float64), pair_hash=pl.lit(None, pl.String))
    decisions = decisions if decisions is not None else pl.DataFrame(schema=DECISIONS)
    different = decisions.filter(pl.col("decision") == DIFFERENT).select("case_number", "address_code")
    pairs = pairs.join(different, on=["case_number", "address_code"], how="anti")
    confirmed = decisions.filter(pl.col("decision") == SAME).select("case_number", "address_code", "pair_hash",
                                                                     confirmed=pl.lit(True))
    ranked = pairs.join(confirmed, on=["case_number", "address_code", "pair_hash"], how="left").with_columns(
        confirmed=pl.col("confirmed").fill_null(False)).sort(
        ["case_number", "confirmed", "match_weight"], descending=[False, True, True]).with_columns(
        rank=pl.int_range(pl.len()).over("case_number"))
    best = ranked.filter(pl.col("rank") == 0)
    runner_up = ranked.filter(pl.col("rank") == 1).select("case_number", runner_up_weight=pl.col("match_weight"))
    best = best.join(runner_up, on="case_number", how="left")
    t = thresholds
    crowded = pl.col("runner_up_weight").is_not_null() & (
        pl.col("match_weight") - pl.col("runner_up_weight") < t.ambiguous_weight_margin)
    band = (pl.when(pl.col("confirmed")).then(pl.lit(LINK))
            .when((pl.col("match_probability") >= t.link_probability) & ~crowded).then(pl.lit(LINK))
            .when(pl.col("match_probability") >= t.review_probability).then(pl.lit(REVIEW))
            .otherwise(pl.lit(NONE)))
    best = best.with_columns(band=band).with_columns(
        method=pl.when(pl.col("band") != LINK).then(None).when(pl.col("confirmed")).then(pl.lit("確認済"))
        .otherwise(pl.lit("自動")),
        explanation=pl.struct([f"level_{c}" for c in COMPARED] + [f"weight_{c}" for c in COMPARED]).map_elements(
            explanation, return_dtype=pl.String))
    out = cases.select(case_number=pl.col("unique_id")).join(best, on="case_number", how="left").with_columns(
        band=pl.col("band").fill_null(NONE))
    return out.select(
        "case_number", "band",
        address_code=pl.when(pl.col("band") != NONE).then("address_code"),
        match_probability=pl.col("match_probability"), match_weight=pl.col("match_weight"),
        method="method", explanation="explanation", runner_up_weight="runner_up_weight", pair_hash="pair_hash")
