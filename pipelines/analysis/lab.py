"""The analysts' lab (分析主体): measures behind the signals, fairness in numbers, the risk of singling
a child out, a candidate rule set tried on pseudonymised data, and an anonymised research extract.

The rules themselves are only in dbt (macros/signal_rules.sql): a candidate is evaluated by running the
lab's dbt model on the analysts' store with the candidate's rules beside the rules in force, into a
scratch database; nothing in production changes. What this module adds is counting: rates, ratios,
small cells suppressed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from pipelines.analysis.judged import share_judged
from pipelines.analysis.lab_report import render_evaluation
from pipelines.analysis.marts import analysis_path, tokenizer
from pipelines.core import config
from pipelines.core.audit import AuditLog
from pipelines.core.duckdb_env import extension_directory
from pipelines.core.home import Home
from pipelines.core.store import connect

AGE_BANDS = [(0, 5, "0-5"), (6, 11, "6-11"), (12, 14, "12-14"), (15, 17, "15-17")]

MEASURES = ["household_size", "household_adults", "household_children",
            "seikatsu_hogo_self", "seikatsu_hogo_member", "jido_fuyo_self", "jido_fuyo_member",
            "shugaku_enjo_self", "shugaku_enjo_member", "adults_assessed", "adults_exempt",
            "days_since_report_self", "days_since_report_sibling", "days_since_consultation",
            "missed_4m_days", "missed_18m_days", "missed_3y_days", "guidance_closed_days",
            "absences_last_month", "absences_school_year", "late_recent", "late_baseline", "nurse_recent",
            "nurse_baseline", "days_since_checkup", "latest_checkup_result", "weight_ratio"]
FAIRNESS_DIMENSIONS = {"sex": "sex", "age_band": "age_band", "town_code": "town_code",
                       "household_type": "household_type"}


def age_band(age: pl.Expr) -> pl.Expr:
    out = pl.lit(None, pl.String)
    for low, high, label in reversed(AGE_BANDS):
        out = pl.when(age.is_between(low, high)).then(pl.lit(label)).otherwise(out)
    return out


def household_type(adults: pl.Expr) -> pl.Expr:
    return (pl.when(adults == 0).then(pl.lit("no_adult")).when(adults == 1).then(pl.lit("one_adult"))
            .when(adults == 2).then(pl.lit("two_adults")).otherwise(pl.lit("three_or_more_adults")))


def child_measures(restricted: duckdb.DuckDBPyConnection, ids: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Per child and night: the numbers behind every signal, under the child's tokens (``ids``, from
    analysis.night_tokens); no date of birth, no fact date, no free text, no code of a person
    (analysis.child_measures)."""
    m = restricted.execute(f"""
        select c.address_code, c.age, c.sex, left(c.area_code, 3) as town_code, c.office_code,
               c.is_flagged, c.domain_count, c.rule_version,
               {', '.join(f'm.{x}' for x in MEASURES if x != 'weight_ratio')}, round(m.weight_ratio, 6) as weight_ratio
        from marts.child_signals c join intermediate.int_child_measures m using (address_code)
        where c.as_of = ?""", [as_of]).pl()
    return m.join(ids, on="address_code", how="left").with_columns(
        age_band=age_band(pl.col("age")), household_type=household_type(pl.col("household_adults")),
        as_of=pl.lit(as_of),
    ).select("as_of", "child_token", "household_token", "age", "age_band", "sex", "town_code", "office_code",
             "household_type", *MEASURES, "domain_count", "is_flagged", "rule_version").sort("child_token")


# ------------------------------------------------------------------------------------------ fairness


def rate_ratios(frame: pl.DataFrame, flagged: str, threshold: int) -> pl.DataFrame:
    """Per dimension and group: children, flagged, the flag rate and its ratio to the overall rate. Counts
    under ``threshold`` (children, or flagged children 1 … threshold − 1) are suppressed, and so is the rate
    that would show them: a prompt to look, never a verdict about a group."""
    total, hits = frame.height, int(frame[flagged].sum()) if frame.height else 0
    overall = hits / total if total else 0.0
    out = []
    for dimension, column in FAIRNESS_DIMENSIONS.items():
        if column not in frame.columns:
            continue
        groups = frame.group_by(column).agg(children=pl.len(), flagged=pl.col(flagged).sum()).sort(column)
        for row in groups.iter_rows(named=True):
            small = row["children"] < threshold or 0 < row["flagged"] < threshold
            rate = row["flagged"] / row["children"] if row["children"] else 0.0
            out.append({"dimension": dimension, "group": str(row[column]), "children": None if row["children"] < threshold
                        else row["children"], "flagged": None if small else row["flagged"],
                        "rate": None if small else round(rate, 6),
                        "ratio": None if small or not overall else round(rate / overall, 4),
                        # a group too small to expect threshold flags at the overall rate is not judged
                        "judged": not small and row["children"] * overall >= threshold})
    schema = {"dimension": pl.String, "group": pl.String, "children": pl.Int64, "flagged": pl.Int64,
              "rate": pl.Float64, "ratio": pl.Float64, "judged": pl.Boolean}
    return pl.DataFrame(out, schema=schema, orient="row")


def outside_band(ratios: pl.DataFrame, band: tuple[float, float]) -> pl.DataFrame:
    return ratios.filter(pl.col("judged") & pl.col("ratio").is_not_null() & ~pl.col("ratio").is_between(*band))


# ------------------------------------------------------------------------------------------ risk


QUASI_IDENTIFIERS = ["town_code", "school_code", "grade", "sex", "age"]


def singling_out(frame: pl.DataFrame, quasi: list[str], k: int) -> dict:
    """How many children a combination of quasi-identifiers singles out: the share unique, and the share
    in groups smaller than k (what an outsider with those facts could narrow a child down to)."""
    if frame.is_empty():
        return {"children": 0, "unique_share": 0.0, "under_k_share": 0.0, "k": k, "quasi_identifiers": quasi}
    sizes = frame.group_by(quasi).agg(n=pl.len())["n"]
    return {"children": frame.height, "k": k, "quasi_identifiers": quasi,
            "unique_share": round(float((sizes == 1).sum()) / frame.height, 4),
            "under_k_share": round(float(sizes.filter(sizes < k).sum()) / frame.height, 4),
            "smallest_group": int(sizes.min())}


# ------------------------------------------------------------------------------------------ evaluation


@dataclass
class Evaluation:
    folder: Path
    summary: dict


def run_lab_model(home: Path, rules: dict, candidate: dict, workdir: Path) -> Path:
    """dbt's lab model on the analysts' store (read only), the rules in force and the candidate side by
    side, into a scratch database; returns it. The same macros as the nightly list decide every signal."""
    project = config.PROJECT_ROOT / "dbt_project"
    lab = workdir / "lab.duckdb"
    env = {**os.environ, "MIMAMORI_LAB_DB": str(lab), "MIMAMORI_HOME": str(home),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
    env["MIMAMORI_DUCKDB_EXTENSIONS"] = extension_directory()
    variables = json.dumps({"rules": rules, "candidate_rules": candidate, "offices": config.offices(),
                            "governance": {"lawful_basis": config.governance()["lawful_basis"]}}, ensure_ascii=False)
    out = subprocess.run([str(Path(sys.executable).with_name("dbt")), "run", "--select", "tag:lab", "--target", "lab",
                          "--project-dir", str(project), "--profiles-dir", str(project), "--vars", variables,
                          "--target-path", str(workdir / "target"), "--log-path", str(workdir / "logs")],
                         env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("the lab's dbt run failed: " + " ".join(
            line for line in out.stdout.splitlines() if "Error" in line or "error" in line)[-1500:])
    return lab


def _domains(rules: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for signal, rule in rules["signals"].items():
        out.setdefault(rule["domain"], []).append(signal.lower())
    return out


def compare(frame: pl.DataFrame, reviews: pl.DataFrame, rules: dict, candidate: dict, threshold: int) -> dict:
    """The numbers of an evaluation (counts only, small cells suppressed)."""
    def small(n: int) -> int | None:
        return None if 0 < n < threshold else n

    result: dict = {"children": frame.height, "as_of": str(frame["as_of"].max()) if frame.height else None}
    for side, side_rules in (("current", rules), ("candidate", candidate)):
        flagged = frame.filter(pl.col(f"{side}_flagged"))
        result[side] = {
            "version": side_rules["version"], "flagged": flagged.height,
            "by_domain": {d: small(int(frame.select(pl.any_horizontal(
                [pl.col(f"{side}_{s}") for s in signals]) & pl.col(f"{side}_flagged")).to_series().sum()))
                for d, signals in _domains(side_rules).items()},
            "by_office": {str(o): small(n) for o, n in flagged.group_by("office_code").len().sort("office_code").iter_rows()},
            "by_signal": {s.upper(): small(int(frame[f"{side}_{s.lower()}"].sum())) for s in side_rules["signals"]},
            "resting_only_on_others": small(int(flagged["{}_others_only".format(side)].sum())),
            "resting_on_own_records": small(flagged.height - int(flagged[f"{side}_others_only"].sum())),
            "fairness": rate_ratios(frame.rename({f"{side}_flagged": "flag"}).select(
                *FAIRNESS_DIMENSIONS.values(), "flag"), "flag", threshold).to_dicts(),
        }
        result[side]["resting_only_on_others_share"] = round(
            int(flagged[f"{side}_others_only"].sum()) / flagged.height, 4) if flagged.height else None
    result["added"] = small(frame.filter(pl.col("candidate_flagged") & ~pl.col("current_flagged")).height)
    result["removed"] = small(frame.filter(~pl.col("candidate_flagged") & pl.col("current_flagged")).height)
    result["reviews"] = agreement(frame, reviews, threshold)
    result["signals_judged"] = share_judged(reviews, max(5, threshold)).to_dicts()
    return result


def agreement(frame: pl.DataFrame, reviews: pl.DataFrame, threshold: int) -> dict:
    """Where caseworkers' reviews exist (latest per child): how many of those each side flags were judged
    要支援, and how many reviewed 支援不要 it still flags."""
    if reviews.is_empty():
        return {"reviewed_children": 0}
    latest = reviews.sort("list_date").group_by("child_token").agg(pl.col("result").last())
    joined = frame.join(latest, on="child_token", how="inner")
    out = {"reviewed_children": joined.height}
    for side in ("current", "candidate"):
        flagged = joined.filter(pl.col(f"{side}_flagged"))
        needs = int((flagged["result"] == "要支援").sum())
        out[side] = {"flagged_and_reviewed": flagged.height,
                     "judged_needs_support": None if 0 < needs < threshold else needs,
                     "needs_support_share": round(needs / flagged.height, 4) if flagged.height and needs >= threshold else None,
                     "reviewed_no_concern_still_flagged": _small(int((flagged["result"] == "支援不要").sum()), threshold)}
    return out


def _small(n: int, threshold: int) -> int | None:
    return None if 0 < n < threshold else n


def evaluate(home: Path, candidate_path: Path) -> Evaluation:
    """Apply a candidate rule set to the latest night's measures beside the rules in force; write
    HOME/reports/rules/<candidate version>/evaluation.{html,json}. Nothing in production changes."""
    rules, candidate = config.rules(), config.rules(Path(candidate_path))
    threshold = config.governance()["small_cell_threshold"]
    store = analysis_path(home)
    if not store.exists():
        raise FileNotFoundError(f"no analysts' store at {store}: run a night first")
    with tempfile.TemporaryDirectory(prefix="mimamori-lab-") as tmp:
        lab = run_lab_model(home, rules, candidate, Path(tmp))
        con = duckdb.connect(str(lab), read_only=True)
        try:
            frame = con.execute("select * from main.lab_rule_evaluation").pl()
        finally:
            con.close()
    con = duckdb.connect(str(store), read_only=True)
    try:
        reviews = con.execute("select child_token, list_date, reviewed_on, result, listed_signals from review_outcomes"
                              ).pl() \
            if con.execute("select count(*) from information_schema.tables where table_name = 'review_outcomes'"
                           ).fetchone()[0] else pl.DataFrame(schema={"child_token": pl.String, "list_date": pl.Date,
                                                                      "reviewed_on": pl.Date, "result": pl.String,
                                                                      "listed_signals": pl.List(pl.String)})
    finally:
        con.close()
    summary = compare(frame, reviews, rules, candidate, threshold)
    folder = Home(home).rules_evaluation(candidate["version"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "evaluation.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2, default=str) + "\n",
                                            encoding="utf-8")
    (folder / "evaluation.html").write_text(render_evaluation(summary, candidate_path), encoding="utf-8")
    return Evaluation(folder, summary)


# ------------------------------------------------------------------------------------------ research extract

RESEARCH_QUASI = ["age_band", "sex", "area", "school_type"]


def generalise(frame: pl.DataFrame) -> pl.DataFrame:
    """Quasi-identifiers made coarser: ages to bands, the town (3 digits) to a wider area of ten towns,
    the school to its type (小学校 elementary B…, 中学校 junior high C…, none)."""
    return frame.with_columns(
        age_band=age_band(pl.col("age")),
        area=pl.col("town_code").cast(pl.Int64, strict=False).floordiv(10).cast(pl.String).str.pad_end(3, "x"),
        school_type=pl.when(pl.col("school_code").str.starts_with("B")).then(pl.lit("elementary"))
        .when(pl.col("school_code").str.starts_with("C")).then(pl.lit("junior_high")).otherwise(pl.lit("none")),
    )


def k_anonymise(frame: pl.DataFrame, quasi: list[str], k: int) -> tuple[pl.DataFrame, int]:
    """Records of every combination of quasi-identifiers holding fewer than k children are suppressed
    (left out); returns the rest and how many were suppressed."""
    sizes = frame.group_by(quasi).agg(n=pl.len())
    kept = frame.join(sizes.filter(pl.col("n") >= k).drop("n"), on=quasi, how="semi")
    return kept, frame.height - kept.height


def measured_k_and_l(frame: pl.DataFrame, quasi: list[str], sensitive: str) -> tuple[int, int]:
    """What the extract achieves: k (the smallest group) and l (the fewest distinct values of the
    sensitive attribute in a group)."""
    if frame.is_empty():
        return 0, 0
    groups = frame.group_by(quasi).agg(n=pl.len(), l=pl.col(sensitive).n_unique())
    return int(groups["n"].min()), int(groups["l"].min())


def research_extract(home: Path, k: int, out: Path, user: str) -> dict:
    """An anonymised extract (匿名加工) of the latest night for research outside the municipality: its own
    key (tokens of the research purpose, which do not join to the analysts'), generalised quasi-identifiers,
    records suppressed until every combination holds at least k children. Audited."""
    with connect(home, read_only=True) as con:
        children = con.execute("""
            select address_code, age, sex, left(area_code, 3) as town_code, school_code, domain_count, is_flagged,
                   {signals}
            from marts.child_signals where as_of = (select max(as_of) from marts.child_signals)""".format(
            signals=", ".join(f"signal_{s.lower()}" for s in config.rules()["signals"]))).pl()
    research = tokenizer(home, "research")
    frame = generalise(children).with_columns(
        research_id=children["address_code"].map_elements(lambda c: research("child", c), return_dtype=pl.String))
    kept, suppressed = k_anonymise(frame, RESEARCH_QUASI, k)
    achieved_k, achieved_l = measured_k_and_l(kept, RESEARCH_QUASI, "is_flagged")
    columns = ["research_id", *RESEARCH_QUASI, "domain_count", "is_flagged",
               *[f"signal_{s.lower()}" for s in config.rules()["signals"]]]
    # a random order: the rows say nothing by their position
    kept = kept.select(columns).sample(fraction=1.0, shuffle=True, seed=None)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    kept.write_csv(out)
    result = {"file": str(out), "children": children.height, "records": kept.height, "suppressed": suppressed,
              "k_requested": k, "k_achieved": achieved_k, "l_diversity_of_flag": achieved_l,
              "quasi_identifiers": RESEARCH_QUASI}
    AuditLog(Home(home).audit_log).append("research_extract", user=user, file=out.name,
                                                  **{k_: v for k_, v in result.items() if k_ != "file"})
    return result
