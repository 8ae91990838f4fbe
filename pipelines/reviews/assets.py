"""The caseworkers' reviews coming back (step ② of the pilot): the returned lists in <landing>/returns/,
read once each, validated with pandera, loaded into the restricted store as raw.reviews.

The asset reads the lists of previous nights (marts.flag_list_history) to check that a reviewed child was
on the list of its 判定基準日; it does not depend on tonight's list, which is made after it.
"""

from dataclasses import dataclass, field

import dagster as dg

from pipelines.core.resources import MimamoriHome, NightLock, run_as_of
from pipelines.core.store import connect
from pipelines.ingest.extracts import ExtractFile, ExtractRejected, file_sha256, write_quarantine
from pipelines.ingest.load import log_file
from pipelines.reviews.returns import (
    ReturnFile,
    ReturnResult,
    ensure_table,
    listed_keys,
    load_reviews,
    loaded_files,
    read_list_dates,
    read_return,
    return_files,
    validate_return,
)
from schemas.contract import RETURNS

REVIEWS = dg.AssetKey(["raw", "reviews"])
CHECKS = {
    "file_accepted": "Every returned list read tonight had the columns 宛名番号, 確認日, 確認結果, 確認者.",
    "rows_reconcile": "Rows read = reviews loaded + rows skipped (not reviewed yet) + rows quarantined, per file.",
}


@dataclass
class ReturnsReport:
    read: list[tuple[ReturnFile, ReturnResult]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    already_read: int = 0


def _read_one(con, home: MimamoriHome, file: ReturnFile, context, report: ReturnsReport) -> None:
    as_of, run_id = run_as_of(context), context.run_id
    extract_file = ExtractFile(file.path, RETURNS.name, file.list_date)
    try:
        read = read_return(file)
        result = validate_return(read, as_of, listed_keys(con, read_list_dates(read)))
    except ExtractRejected as rejected:
        context.log.error(f"rejected: {rejected}")
        report.rejected.append(str(rejected))
        digest = file_sha256(file.path)
        log_file(con, extract_file, status="rejected", as_of=as_of, run_id=run_id, message=rejected.problem,
                 sha256=digest)
        home.audit.append("return_rejected", file=file.name, size=file.path.stat().st_size, sha256=digest,
                          line=rejected.line, problem=rejected.problem, run_id=run_id)
        return
    if not result.reconciles():  # a defect of ours, never of the office's file
        raise RuntimeError(f"{file.name}: rows do not reconcile")
    write_quarantine(result.validated, home.layout.quarantine(as_of))
    validated = result.validated

    def record() -> None:
        log_file(con, extract_file, status="loaded", as_of=as_of, run_id=run_id, validated=validated,
                 skipped=result.skipped)
        home.audit.append("return_loaded", file=file.name, office=file.office_code, size=validated.read.size_bytes,
                          sha256=validated.read.sha256, rows_read=result.rows_read,
                          reviews_loaded=validated.rows_loaded, rows_skipped=result.skipped,
                          rows_quarantined=validated.rows_quarantined, run_id=run_id)

    load_reviews(con, result, file, as_of, record)
    report.read.append((file, result))


@dg.asset(
    key=REVIEWS,
    group_name="caseworker_feedback",
    kinds={"xlsx", "csv", "pandera", "duckdb"},
    owners=["team:mimamori-data"],
    tags={"role": "ingest", "department": "caseworker_feedback"},
    description="確認結果: the lists the support offices returned with 確認日, 確認結果, 確認者 filled "
                "(<landing>/returns/*.xlsx|csv), each file read once; reviews loaded into raw.reviews, bad rows to "
                "quarantine/<as-of>/<file>.csv (../shared/spec/reviews.md).",
    check_specs=[dg.AssetCheckSpec(name, asset=REVIEWS, description=d) for name, d in CHECKS.items()],
)
def caseworker_reviews(context: dg.AssetExecutionContext, home: MimamoriHome,
                       night_lock: NightLock) -> dg.MaterializeResult:
    report = ReturnsReport()
    with connect(home.root) as con:
        ensure_table(con)
        seen = loaded_files(con)
        for file in return_files(home.landing_dir):
            if file_sha256(file.path) in seen:
                report.already_read += 1  # the same file read twice changes nothing
                continue
            _read_one(con, home, file, context, report)
        reviews = con.execute("select count(*) from raw.reviews").fetchone()[0]
    files = [{"file": f.name, "office": f.office_code, "list_date": str(f.list_date), "rows_read": r.rows_read,
              "reviews_loaded": r.validated.rows_loaded, "rows_skipped": r.skipped,
              "rows_quarantined": r.validated.rows_quarantined} for f, r in report.read]
    return dg.MaterializeResult(
        metadata={"files_read": dg.MetadataValue.json(files), "files_already_read": report.already_read,
                  "reviews_loaded": sum(f["reviews_loaded"] for f in files),
                  "rows_quarantined": sum(f["rows_quarantined"] for f in files),
                  "rejected_files": dg.MetadataValue.json(report.rejected), "reviews_in_store": reviews},
        check_results=[
            dg.AssetCheckResult(check_name="file_accepted", passed=not report.rejected,
                                severity=dg.AssetCheckSeverity.WARN,
                                metadata={"rejected": dg.MetadataValue.json(report.rejected)}),
            dg.AssetCheckResult(check_name="rows_reconcile", passed=all(r.reconciles() for _, r in report.read),
                                metadata={"files": len(report.read)}),
        ])
