"""The analysts' lab on the nightly home: candidate rules evaluated by the same rule macros as the list,
fairness every night, and a research extract whose k is checked here independently."""

import contextlib
import io
import json
import re
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml

from pipelines import cli
from pipelines.analysis.labels import group_label
from pipelines.analysis.lab import RESEARCH_QUASI
from pipelines.core import config
from tests.helpers import AS_OF, check_evaluations, identifiers, restricted


def candidate(tmp_path: Path, version: str, **changes) -> Path:
    rules = yaml.safe_load((config.CONFIG_DIR / "rules.yml").read_text(encoding="utf-8"))
    rules["version"] = version
    for key, value in changes.items():
        if key == "S1_min_days":
            rules["signals"]["S1"]["min_days"] = value
        else:
            rules[key] = value
    path = tmp_path / f"{version}.yml"
    path.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    return path


def evaluate(home: Path, rules: Path) -> tuple[dict, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["rules", "evaluate", "--home", str(home), "--rules", str(rules)]) == 0
    page = Path(out.getvalue().splitlines()[-1])
    return json.loads((page.parent / "evaluation.json").read_text(encoding="utf-8")), page.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def evaluations(nightly_home, tmp_path_factory):
    folder = tmp_path_factory.mktemp("candidates")
    same = evaluate(nightly_home["home"], candidate(folder, "same-as-in-force"))
    strict = evaluate(nightly_home["home"], candidate(folder, "stricter", min_domains=3, S1_min_days=12))
    looser = evaluate(nightly_home["home"], candidate(folder, "looser", S1_min_days=5))
    return same, strict, looser


def test_a_candidate_identical_to_the_rules_in_force_changes_nothing(nightly_home, evaluations):
    (same, _), _, _ = evaluations
    with restricted(nightly_home["home"]) as con:
        flagged = con.execute("select count(*) from marts.child_signals where is_flagged").fetchone()[0]
        listed = con.execute("select count(*) from marts.flagged_children").fetchone()[0]
    assert same["added"] == 0 and same["removed"] == 0
    assert same["current"]["flagged"] == same["candidate"]["flagged"] == flagged == listed  # no review here
    assert same["current"]["by_signal"] == same["candidate"]["by_signal"]


def test_a_stricter_candidate_flags_a_subset_and_a_looser_one_a_superset(evaluations):
    (same, _), (strict, _), (looser, _) = evaluations
    assert strict["added"] == 0 and strict["candidate"]["flagged"] < strict["current"]["flagged"]
    assert looser["removed"] == 0 and looser["candidate"]["flagged"] >= looser["current"]["flagged"]
    assert {"current", "candidate", "added", "removed", "reviews"} <= set(strict)
    assert strict["candidate"]["version"] == "stricter"


def test_evaluations_and_extracts_hold_no_identifier(nightly_home, evaluations, research):
    secret = {s for s in identifiers(nightly_home["landing"], AS_OF) if len(s) >= 4}
    texts = [json.dumps(e[0], ensure_ascii=False) + e[1] for e in evaluations]
    texts.append(research["path"].read_text(encoding="utf-8"))
    blob = "\n".join(texts)
    assert not [s for s in secret if s in blob][:3]


def test_the_analysts_measures_hold_numbers_not_people(nightly_home):
    con = duckdb.connect(str(nightly_home["home"] / "warehouse" / "analysis.duckdb"), read_only=True)
    measures = con.execute("select * from child_measures where as_of = ?", [AS_OF]).pl()
    con.close()
    assert not {"address_code", "household_code", "birth_date", "full_name", "pupil_id"} & set(measures.columns)
    assert {"absences_last_month", "days_since_consultation", "weight_ratio", "household_type"} <= set(measures.columns)
    assert measures.filter(pl.col("is_flagged")).height > 0


def test_fairness_ratios_are_kept_every_night_and_checked(nightly_home):
    con = duckdb.connect(str(nightly_home["home"] / "warehouse" / "analysis.duckdb"), read_only=True)
    fairness = con.execute("select * from fairness_nightly where as_of = ?", [AS_OF]).pl()
    con.close()
    assert set(fairness["dimension"]) == {"sex", "age_band", "town_code", "household_type"}
    assert fairness.filter(pl.col("flagged").is_between(1, 4)).is_empty()  # small cells suppressed
    assert "analysis/fairness_nightly:fairness_within_band" in check_evaluations(nightly_home["second"].result)
    report = (nightly_home["home"] / "reports" / AS_OF.isoformat() / "report.html").read_text(encoding="utf-8")
    assert "ルールの公平性と再識別のリスク" in report and "single out" in report
    section = report.split("ルールの公平性と再識別のリスク")[1].split("</table>")[0]
    shown = {tuple(re.sub(r"<[^>]+>", "", c) for c in cells[:2]): re.sub(r"<[^>]+>", "", cells[4])
             for cells in (re.findall(r"<td[^>]*>(.*?)</td>", row) for row in section.split("<tr>")) if len(cells) == 5}
    assert len(shown) == fairness.height
    for r in fairness.iter_rows(named=True):  # a group too small to judge shows no ratio, not 0.00
        judged = r["judged"] and r["ratio"] is not None
        # shown in words (性別 男, 世帯類型 大人1人の世帯), never the data's codes (sex 1, one_adult)
        assert shown[group_label(r["dimension"], r["group"])] == (f"{r['ratio']:.2f}" if judged else "-")
    assert not {"sex", "household_type", "one_adult", "age_band"} & {w for key in shown for w in key}
    assert not fairness["judged"].all() and fairness["judged"].any()  # both kinds of row are seen


@pytest.fixture(scope="module")
def research(nightly_home, tmp_path_factory):
    path = tmp_path_factory.mktemp("research") / "extract.csv"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["research", "extract", "--home", str(nightly_home["home"]), "--k", "5", "--out", str(path)]) == 0
    return {"path": path, "last_line": out.getvalue().splitlines()[-1]}


def test_the_research_extract_is_k_anonymous_by_an_independent_count(nightly_home, research):
    extract = pl.read_csv(research["path"], infer_schema_length=0)
    smallest = extract.group_by(RESEARCH_QUASI).len()["len"].min()
    assert smallest >= 5 and research["last_line"] == f"achieved k = {smallest}"
    assert extract.columns[:5] == ["research_id", *RESEARCH_QUASI] and "age" not in extract.columns
    con = duckdb.connect(str(nightly_home["home"] / "warehouse" / "analysis.duckdb"), read_only=True)
    analysts = {t for (t,) in con.execute("select distinct child_token from child_indicators").fetchall()}
    con.close()
    assert not analysts & set(extract["research_id"])  # its own key: it does not join to the analysts'
    entries = [json.loads(line) for line in (nightly_home["home"] / "audit" / "audit.log").read_text(
        encoding="utf-8").splitlines()]
    assert any(e["event"] == "research_extract" and e["details"]["k_achieved"] == smallest for e in entries)


def test_an_analyst_launches_the_evaluation_as_a_dagster_job(nightly_home, tmp_path):
    import os

    import dagster as dg

    from pipelines.definitions import defs

    os.environ.update({"MIMAMORI_HOME": str(nightly_home["home"]), "MIMAMORI_LANDING": str(nightly_home["landing"])})
    path = candidate(tmp_path, "from-the-ui", min_domains=3)
    result = defs.resolve_job_def("evaluate_rules").execute_in_process(
        run_config={"ops": {"evaluate_candidate_rules": {"config": {"rules_path": str(path)}}}},
        instance=dg.DagsterInstance.ephemeral())
    assert result.success
    assert (nightly_home["home"] / "reports" / "rules" / "from-the-ui" / "evaluation.html").exists()
