"""The linkage step as one function of the typed extracts: prepare, score with Splink, decide the bands.

Plain logic (no Dagster, no store): the asset calls it on raw.jisou and raw.jumin, the bench and the tests
on the generator's files read through the ingest's own validation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import date

import polars as pl

from pipelines.matching.bands import decide
from pipelines.matching.model import COLUMNS, PAIRS, Thresholds, prepare_cases, prepare_residents, score


@dataclass
class Linkage:
    decisions: pl.DataFrame  # one row per record: band, address_code, probability, method, explanation
    pairs: pl.DataFrame  # every scored candidate pair
    model: dict  # the trained Splink model (m and u per level), saved beside the night's review file
    residents_compared: int


def record_hash(frame: pl.DataFrame) -> pl.Series:
    """sha256 of a prepared record's compared values: a decision on a pair holds while both hashes do."""
    text = frame.select(pl.concat_str([pl.col(c).cast(pl.String) if c not in ("adult_names", "adult_given")
                                       else pl.col(c).list.join(",") for c in COLUMNS[1:]],
                                      separator="\x1f", ignore_nulls=False).fill_null("∅")).to_series()
    return text.map_elements(lambda s: hashlib.sha256(s.encode()).hexdigest()[:16], return_dtype=pl.String)


def run_linkage(jisou: pl.DataFrame, jumin: pl.DataFrame, as_of: date, thresholds: Thresholds,
                decisions: pl.DataFrame | None = None) -> Linkage:
    cases = prepare_cases(jisou)
    residents = prepare_residents(jumin, as_of, thresholds.candidates_max_age)
    if cases.is_empty():
        pairs, model = pl.DataFrame(schema=PAIRS), {}
    else:
        pairs, model = score(cases, residents)
    # a pair's hash: the centre's record and the resident as compared tonight
    case_hash = cases.select(case_number="unique_id", case_hash=record_hash(cases))
    candidates = residents.filter(pl.col("unique_id").is_in(pairs["address_code"].implode()))
    person_hash = candidates.select(address_code="unique_id", person_hash=record_hash(candidates))
    pairs = pairs.join(case_hash, on="case_number", how="left").join(person_hash, on="address_code", how="left") \
        .with_columns(pair_hash=pl.concat_str("case_hash", "person_hash", separator=":")) \
        .drop("case_hash", "person_hash")
    if pairs.height and model.get("em_sessions_trained", 0) == 0:
        # m could not be estimated from tonight's records (too few): no probability to trust, so nothing is
        # linked automatically — every candidate goes to the data team (a decision still links)
        thresholds = replace(thresholds, link_probability=2.0, review_probability=0.0)
    return Linkage(decide(cases, pairs, thresholds, decisions), pairs, model, residents.height)
