"""Data quality of the night: Great Expectations results as asset checks, the analysts' dq_nightly table,
GE Data Docs and the self-contained nightly report."""

import dagster as dg
import duckdb
import polars as pl

from pipelines.analysis.marts import analysis_path, connect_analysis, publish
from pipelines.core import config
from pipelines.core.charts import Charts
from pipelines.core.resources import MimamoriHome, NightLock, run_as_of
from pipelines.core.store import connect, table_exists
from pipelines.quality.expectations import evaluate, measure_rows
from pipelines.quality.report import effect_section, lab_section, quarantine_reasons, render, review_section
from pipelines.quality.resources import QualitySuites
from pipelines.quality.summary import collect
from pipelines.reviews.returns import outcomes_by_signals, timeliness
from schemas.contract import EXTRACTS

REPORT = dg.AssetKey(["quality", "nightly_report"])
CHECKS = {f"ge_{name}": f"{name}: rows within ±20 % of the previous night, no null key, codes in the code list"
          for name in EXTRACTS} | {
    "ge_link_rates": "At least 95 % of attendance pupils and programme records link to the register/registry.",
    "ge_list_size": "The flag list's size within ±50 % of the average of the previous nights."}


def _previous(home: MimamoriHome, as_of) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The previous night's measures, and all nights' before T."""
    path = analysis_path(home.root)
    empty = pl.DataFrame(schema={"as_of": pl.Date, "measure": pl.String, "subject": pl.String, "value": pl.Float64})
    if not path.exists():
        return empty, empty
    con = duckdb.connect(str(path), read_only=True)
    try:
        if not table_exists(con, "main.dq_nightly"):
            return empty, empty
        history = con.execute("select * from dq_nightly where as_of < ? order by as_of", [as_of]).pl()
    finally:
        con.close()
    last = history["as_of"].max() if history.height else None
    return history.filter(pl.col("as_of") == last) if last else empty, history


@dg.asset(
    key=REPORT,
    group_name="data_quality",
    deps=[dg.AssetKey(["marts", "flagged_children"]), dg.AssetKey(["marts", "link_quality"]),
          dg.AssetKey(["analysis", "fairness_nightly"]), dg.AssetKey(["analysis", "child_indicators"]),
          dg.AssetKey(["marts", "review_queue"]), dg.AssetKey(["marts", "listing_runs"]),
          dg.AssetKey(["marts", "flag_list_runs"]), *[dg.AssetKey(["raw", n]) for n in EXTRACTS]],
    kinds={"html", "duckdb"},
    owners=["team:mimamori-data"],
    tags={"role": "quality"},
    check_specs=[dg.AssetCheckSpec(name, asset=REPORT, description=d) for name, d in CHECKS.items()],
    description="Great Expectations suites over the night's measures, the analysts' dq_nightly table, GE Data "
                "Docs and reports/<as-of>/report.html (self-contained, counts only).",
)
def nightly_report(context: dg.AssetExecutionContext, home: MimamoriHome, night_lock: NightLock,
                   quality_suites: QualitySuites) -> dg.MaterializeResult:
    as_of = run_as_of(context)
    previous, history = _previous(home, as_of)
    rules, gov = config.rules(), config.governance()
    with connect(home.root, read_only=True) as con:
        worker = quality_suites.start()
        evaluation = evaluate(con, as_of, previous, worker)  # GE judges and builds Data Docs meanwhile
        reviews = review_section(timeliness(con, as_of, rules["review"]["due_days"]),
                                 outcomes_by_signals(con, gov["small_cell_threshold"]), rules["review"]["due_days"])
    dept, links = evaluation.dept, evaluation.links
    summary = collect(home.root, as_of, None, home.landing_dir) | {"rule_version": rules["version"]}
    tonight = measure_rows(as_of, dept, links, summary)
    with connect_analysis(home.root) as con:
        publish(con, "dq_nightly", tonight, as_of)
        lab = lab_section(con, as_of, gov)
    outcomes, docs = evaluation.judged(restart=quality_suites.start,
                                       timeout=config.operations().get("quality_answer_seconds", 300))
    if evaluation.asked_again:
        context.log.warning(f"Great Expectations' worker died or hung before it answered; a new one was asked: "
                            f"{evaluation.asked_again}")
    worker = evaluation.worker
    context.log.info(f"suites run by Great Expectations' worker (pid {worker.process.pid}), "
                     + ("ready before they were asked" if worker.import_wait == 0 else
                        f"ready {worker.import_wait:.1f} s after they were asked (GE was still importing)"))
    folder = home.layout.reports(as_of)
    folder.mkdir(parents=True, exist_ok=True)
    report = folder / "report.html"
    charts = Charts()
    report.write_text(render(as_of, summary, outcomes, dept, links, pl.concat([history, tonight]),
                             quarantine_reasons(home.layout.quarantine(as_of)), docs, charts, reviews + lab,
                             effect_section(home.root)),
                      encoding="utf-8")
    for o in outcomes:
        if not o.passed:
            context.log.warning(f"data quality: {o.message}")
    if charts.missing:
        context.log.warning(f"the report's charts miss {len(charts.missing)} glyphs (no Japanese font? install "
                            f"fonts-noto-cjk): {charts.missing[0]}")
    return dg.MaterializeResult(
        metadata={"report": dg.MetadataValue.path(str(report)), "data_docs": dg.MetadataValue.path(str(docs)),
                  "missing_glyphs": len(charts.missing),
                  "failed_checks": dg.MetadataValue.json([o.message for o in outcomes if not o.passed])},
        check_results=[dg.AssetCheckResult(check_name=o.check, passed=o.passed, severity=dg.AssetCheckSeverity.WARN,
                                           description=o.message, metadata={"subject": o.subject})
                       for o in outcomes])
