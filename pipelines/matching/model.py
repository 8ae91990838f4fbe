"""The linkage model: the centre's records against the registry's children, Fellegi–Sunter as Splink does it on
DuckDB (m from expectation maximisation, u from random pairs, both estimated from tonight's data).

Both sides are prepared into the same columns (Splink compares like with like): normalised kanji name and
kana (normalize.py), birth date, sex, address parts, and the guardian — the centre's one name on its side,
the adults of the candidate's household on the registry's. The comparisons and blocking rules below are
the model; its version and the bands' thresholds are in config/rules.yml (``linkage``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import duckdb
import polars as pl
import splink.comparison_library as cl
from splink import Linker, SettingsCreator, block_on
from splink.backends.duckdb import DuckDBAPI
from splink.internals.exceptions import EMTrainingException

from pipelines.matching.normalize import address_parts, given_name, kana, kana_unvoiced, kanji_name

COMPARED = ("name", "birth_date", "sex", "address", "guardian")
PAIRS = pl.Schema({"case_number": pl.String, "address_code": pl.String, "match_weight": pl.Float64,
                   "match_probability": pl.Float64, **{f"level_{c}": pl.Int32 for c in COMPARED},
                   **{f"weight_{c}": pl.Float64 for c in COMPARED}})
COLUMNS = ["unique_id", "name", "given", "kana", "kana_plain", "birth_date", "birth_text", "sex", "town", "chome",
           "banchi", "go", "guardian", "guardian_given", "adult_names", "adult_given"]

# How each comparison's levels read in the review file and the disclosure (照合の内訳).
LEVEL_LABELS = {
    "name": ["氏名・カナとも一致", "氏名一致（カナ相違・なし）", "カナ一致（氏名相違）", "カナ一致（濁点の違い）", "不一致"],
    "birth_date": ["一致", "月日の入れ違い", "1桁違い", "不一致"],
    "sex": ["一致", "不一致"],
    "address": ["番地・号まで一致", "番地まで一致", "町丁目一致", "不一致"],
    "guardian": ["世帯の大人と一致", "名のみ一致（姓の変更）", "不一致"],
}


@dataclass(frozen=True)
class Thresholds:
    """The bands of linkage.md, from config/rules.yml ``linkage``."""

    model: str
    link_probability: float
    review_probability: float
    ambiguous_weight_margin: float
    candidates_max_age: int

    @classmethod
    def from_rules(cls, rules: dict) -> "Thresholds":
        c = rules["linkage"]
        return cls(str(c["model"]), float(c["link_probability"]), float(c["review_probability"]),
                   float(c["ambiguous_weight_margin"]), int(c["candidates_max_age"]))


def _person(unique_id: str) -> dict[str, pl.Expr]:
    """The columns both sides compare alike, from the contract's names of a person's columns."""
    return {"unique_id": pl.col(unique_id), "name": kanji_name(pl.col("full_name")),
            "given": given_name(pl.col("full_name")), "kana": kana(pl.col("full_name_kana")),
            "kana_plain": kana_unvoiced(pl.col("full_name_kana")), "birth_date": pl.col("birth_date"),
            "birth_text": pl.col("birth_date").dt.strftime("%Y%m%d"), "sex": pl.col("sex"),
            "address": address_parts(pl.col("address"))}


def prepare_cases(jisou: pl.DataFrame) -> pl.DataFrame:
    """raw.jisou (typed) → the model's columns; the guardian's name on this side only."""
    return jisou.select(
        **_person("case_number"),
        guardian=kanji_name(pl.col("guardian_name")),
        guardian_given=given_name(pl.col("guardian_name")),
        adult_names=pl.lit(None, dtype=pl.List(pl.String)),
        adult_given=pl.lit(None, dtype=pl.List(pl.String)),
    ).unnest("address").with_columns(guardian=pl.when(pl.col("guardian") != "").then("guardian")).select(COLUMNS)


def prepare_residents(jumin: pl.DataFrame, as_of: date, max_age: int) -> pl.DataFrame:
    """raw.jumin (typed): the persons under max_age on T (residents and the recently removed), each with
    the names of the adults of their household."""
    born_after = date(as_of.year - max_age, as_of.month, min(as_of.day, 28))
    adults = jumin.filter(pl.col("birth_date") <= date(as_of.year - 18, as_of.month, min(as_of.day, 28))).group_by(
        "household_code").agg(adult_names=kanji_name(pl.col("full_name")).unique().sort(),
                              adult_given=given_name(pl.col("full_name")).drop_nulls().unique().sort())
    children = jumin.filter(pl.col("birth_date") > born_after)
    return children.join(adults, on="household_code", how="left").select(
        **_person("address_code"),
        guardian=pl.lit(None, dtype=pl.String),
        guardian_given=pl.lit(None, dtype=pl.String),
        adult_names=pl.col("adult_names"),
        adult_given=pl.col("adult_given"),
    ).unnest("address").select(COLUMNS)


def _either(template: str) -> str:
    """A condition between the centre's side and the registry's, whichever Splink puts on the left."""
    return "(" + " or ".join(f"coalesce({template.format(a=a, b=b)}, false)" for a, b in (("l", "r"), ("r", "l"))) + ")"


def settings(probability_two_random_records_match: float) -> SettingsCreator:
    town_agrees = _either("ends_with(town_{a}, town_{b})") + " and chome_l = chome_r"
    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        probability_two_random_records_match=probability_two_random_records_match,
        comparisons=[
            cl.CustomComparison(output_column_name="name", comparison_description="氏名（漢字・カナ）", comparison_levels=[
                {"sql_condition": "name_l is null or name_r is null", "is_null_level": True},
                {"sql_condition": "name_l = name_r and kana_l = kana_r", "label_for_charts": LEVEL_LABELS["name"][0]},
                {"sql_condition": "name_l = name_r", "label_for_charts": LEVEL_LABELS["name"][1]},
                {"sql_condition": "kana_l = kana_r", "label_for_charts": LEVEL_LABELS["name"][2]},
                {"sql_condition": "kana_plain_l = kana_plain_r", "label_for_charts": LEVEL_LABELS["name"][3]},
                {"sql_condition": "ELSE", "label_for_charts": LEVEL_LABELS["name"][4]},
            ]),
            cl.CustomComparison(output_column_name="birth_date", comparison_description="生年月日", comparison_levels=[
                {"sql_condition": "birth_date_l is null or birth_date_r is null", "is_null_level": True},
                {"sql_condition": "birth_date_l = birth_date_r", "label_for_charts": LEVEL_LABELS["birth_date"][0]},
                {"sql_condition": "year(birth_date_l) = year(birth_date_r) and month(birth_date_l) = day(birth_date_r) "
                                  "and day(birth_date_l) = month(birth_date_r)",
                 "label_for_charts": LEVEL_LABELS["birth_date"][1]},
                {"sql_condition": "hamming(birth_text_l, birth_text_r) = 1",
                 "label_for_charts": LEVEL_LABELS["birth_date"][2]},
                {"sql_condition": "ELSE", "label_for_charts": LEVEL_LABELS["birth_date"][3]},
            ]),
            cl.ExactMatch("sex"),
            cl.CustomComparison(output_column_name="address", comparison_description="住所", comparison_levels=[
                {"sql_condition": "town_l is null or town_r is null", "is_null_level": True},
                {"sql_condition": f"{town_agrees} and banchi_l = banchi_r and go_l = go_r",
                 "label_for_charts": LEVEL_LABELS["address"][0]},
                {"sql_condition": f"{town_agrees} and banchi_l = banchi_r", "label_for_charts": LEVEL_LABELS["address"][1]},
                {"sql_condition": town_agrees, "label_for_charts": LEVEL_LABELS["address"][2]},
                {"sql_condition": "ELSE", "label_for_charts": LEVEL_LABELS["address"][3]},
            ]),
            cl.CustomComparison(output_column_name="guardian", comparison_description="保護者氏名", comparison_levels=[
                {"sql_condition": "coalesce(guardian_l, guardian_r) is null or coalesce(adult_names_l, adult_names_r) "
                                  "is null", "is_null_level": True},
                {"sql_condition": _either("list_contains(adult_names_{a}, guardian_{b})"),
                 "label_for_charts": LEVEL_LABELS["guardian"][0]},
                {"sql_condition": _either("list_contains(adult_given_{a}, guardian_given_{b})"),
                 "label_for_charts": LEVEL_LABELS["guardian"][1]},
                {"sql_condition": "ELSE", "label_for_charts": LEVEL_LABELS["guardian"][2]},
            ]),
        ],
        # Few comparisons even at fukuoka: a record meets only the children born that day, or of its
        # spelling, or of its name and town.
        blocking_rules_to_generate_predictions=[
            block_on("birth_date"),
            block_on("kana"),
            block_on("name"),
            block_on("given", "sex", "chome"),
        ],
        retain_intermediate_calculation_columns=True,  # each comparison's level and Bayes factor: the explanation
        retain_matching_columns=True,
    )


def score(cases: pl.DataFrame, residents: pl.DataFrame, *, seed: int = 20261205) -> tuple[pl.DataFrame, dict]:
    """Every candidate pair the blocking rules give, with its match weight and probability and each
    comparison's level and Bayes factor (the explanation). Returns (pairs, the trained model as Splink's
    settings dict). Runs in an in-memory DuckDB of its own: nothing of Splink's lands in the stores."""
    logging.getLogger("splink").setLevel(logging.ERROR)  # "level not observed" for rare levels: expected
    con = duckdb.connect(config={"threads": 2, "memory_limit": "1GB"})
    try:
        db_api = DuckDBAPI(connection=con)
        left = db_api.register(cases.to_arrow(), dataset_display_name="jisou")
        right = db_api.register(residents.to_arrow(), dataset_display_name="jumin")
        prior = min(0.5, max(cases.height, 1) / max(cases.height * residents.height, 1))  # ≈ one child per record
        linker = Linker([left, right], settings(prior), log_level=None)
        linker.training.estimate_u_using_random_sampling(max_pairs=3e5, seed=seed)
        # Each session blocks on columns whose agreement makes most of its pairs matches, and estimates the
        # m of the other comparisons (name and birth date: address, sex, guardian; the same house and
        # birthday: the name — twins are there; name and block: the birth date).
        trained = 0
        for rule in (block_on("name", "birth_date"), block_on("birth_date", "chome", "banchi"),
                     block_on("name", "chome")):
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(rule, fix_u_probabilities=True)
                trained += 1
            except EMTrainingException:  # no pair of tonight's records meets this rule (a short list)
                continue
        pairs = linker.inference.predict(threshold_match_probability=0.01)
        out = pairs.as_duckdbpyrelation().pl()
        model = linker.misc.save_model_to_json() | {"em_sessions_trained": trained}
    finally:
        con.close()
    if out.is_empty():  # (Splink's empty result lacks some columns)
        return pl.DataFrame(schema=PAIRS), model
    case_side = "l" if out.is_empty() or out["unique_id_l"].is_in(cases["unique_id"].implode()).all() else "r"
    other = "r" if case_side == "l" else "l"
    return out.select(
        case_number=pl.col(f"unique_id_{case_side}"), address_code=pl.col(f"unique_id_{other}"),
        match_weight=pl.col("match_weight"), match_probability=pl.col("match_probability"),
        **{f"level_{c}": pl.col(f"gamma_{c}") for c in COMPARED},
        **{f"weight_{c}": pl.col(f"mw_{c}") for c in COMPARED},
    ), model
