"""One asset per department extract: read the landing folder for the run's as-of date, validate with
pandera, quarantine bad rows, load the rest into the restricted store (``raw.<extract>``).

A rejected file leaves the department's last good table in place: the asset still materialises (so the
night goes on) and its checks say, in words, which file was rejected and that the data is stale.
"""


from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import dagster as dg

from pipelines.core import config
from pipelines.core.resources import MimamoriHome, NightLock, run_as_of
from pipelines.core.store import connect, table_exists
from pipelines.ingest.extracts import (
    ExtractFile,
    ExtractRejected,
    ValidatedExtract,
    file_fingerprint,
    file_sha256,
    landing_files,
    read_extract,
    validate,
    write_quarantine,
)
from pipelines.ingest.load import (
    create_empty,
    current_snapshot,
    loaded_files,
    loaded_fingerprints,
    log_file,
    relabel_snapshot,
    replace_snapshot,
    upsert_delta,
)
from pipelines.ingest.sources import data_in_use
from pipelines.ingest.streaming import batch_bytes_for, discard_stage, validate_in_batches
from schemas.contract import EXTRACTS, Extract

MAX_QUARANTINE_SHARE = 0.01  # more than 1 % of a file's rows set aside is worth a look
CHECKS = {
    "file_accepted": "The newest file dated ≤ T (every new delta file) could be read as the contract.",
    "rows_reconcile": "Rows read = rows loaded + rows quarantined, for every file read tonight.",
    "quarantine_share": f"At most {MAX_QUARANTINE_SHARE:.0%} of a file's rows quarantined.",
    "data_current": "The table holds the newest file dated ≤ T: not stale after a rejection or a missing file.",
}


@dataclass
class NightReport:
    """What one extract's asset did tonight, for its metadata and checks."""

    validated: list[ValidatedExtract] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # the rejection messages
    skipped: list[str] = field(default_factory=list)  # files already in the store (same sha256): not read again
    newest: ExtractFile | None = None


def _ingest_file(con, home: MimamoriHome, file: ExtractFile, as_of: date, run_id: str,
                 report: NightReport, context: dg.AssetExecutionContext) -> ValidatedExtract | None:
    batch_bytes = batch_bytes_for(file)
    context.log.info(f"reading {file.name}" + (f" in batches of {batch_bytes:,} bytes" if batch_bytes else ""))
    fingerprint = file_fingerprint(file.path)  # before reading: a file changed meanwhile has another
    try:
        validated = validate_in_batches(con, file, as_of, batch_bytes) if batch_bytes else \
            validate(read_extract(file), as_of)
    except ExtractRejected as rejected:
        context.log.error(f"rejected: {rejected}")
        report.rejected.append(str(rejected))
        digest = file_sha256(file.path)
        log_file(con, file, status="rejected", as_of=as_of, run_id=run_id, message=rejected.problem, sha256=digest)
        home.audit.append("file_rejected", file=file.name, size=file.path.stat().st_size, sha256=digest,
                          line=rejected.line, problem=rejected.problem, run_id=run_id)
        return None
    validated.read.fingerprint = fingerprint
    if not validated.reconciles():  # a defect of ours, never of the department's data
        raise RuntimeError(f"{file.name}: rows do not reconcile")
    kept = f" ({validated.rows_kept:,} of them kept as loaded from the earlier file, whose lines are unchanged)" \
        if validated.kept else ""
    if validated.diff_note:
        context.log.info(f"{file.name}: {validated.diff_note}")
    context.log.info(f"{file.name}: {validated.rows_loaded:,} rows valid{kept}, {validated.rows_quarantined:,} "
                     "quarantined; loading")
    write_quarantine(validated, home.layout.quarantine(as_of))
    report.validated.append(validated)
    return validated


def _record_load(con, home: MimamoriHome, validated: ValidatedExtract, as_of: date, run_id: str):
    """What goes with the rows, in their transaction: the load log's entry and the audit entry. A kill
    before the commit leaves the audit saying 'loaded' for a file the next night loads again (a file is
    never loaded without its audit entry)."""
    read = validated.read

    def record() -> None:
        log_file(con, read.file, status="loaded", as_of=as_of, run_id=run_id, validated=validated)
        home.audit.append("file_loaded", file=read.file.name, size=read.size_bytes, sha256=read.sha256,
                          rows_read=read.rows_read, rows_loaded=validated.rows_loaded,
                          rows_quarantined=validated.rows_quarantined, run_id=run_id)

    return record


def _ingest_snapshot(con, home: MimamoriHome, extract: Extract, files: list[ExtractFile], as_of: date,
                     report: NightReport, context: dg.AssetExecutionContext) -> None:
    """The newest good data dated ≤ T: walking the files from the newest, stop at the data the store holds
    (kept, or relabelled when a newer file has the same bytes), or at the first file that reads."""
    held = current_snapshot(con, extract.name) if table_exists(con, f"raw.{extract.name}") else None
    for file in reversed(files):
        if held and held.extracted_on > file.extracted_on:
            return  # what the store holds is newer than anything left to try
        if held and _same_bytes(file.path, {held.sha256: held.size_bytes}, {held.fingerprint} - {None}):
            # the same bytes as the table holds: nothing to read again (tax data changes once a year)
            report.skipped.append(file.name)
            relabel_snapshot(con, file)
            log_file(con, file, status="unchanged", as_of=as_of, run_id=context.run_id, sha256=held.sha256,
                     message="same sha256 as the data in use")
            return
        validated = _ingest_file(con, home, file, as_of, context.run_id, report, context)
        if validated:
            replace_snapshot(con, validated, _record_load(con, home, validated, as_of, context.run_id))
            return


def _ingest_deltas(con, home: MimamoriHome, extract: Extract, files: list[ExtractFile], as_of: date,
                   report: NightReport, context: dg.AssetExecutionContext) -> None:
    """Every delta file dated ≤ T not loaded yet (by sha256), oldest first; a rejected one is skipped."""
    done, untouched = loaded_files(con, extract.name), loaded_fingerprints(con, extract.name)
    for file in files:
        if _same_bytes(file.path, done, untouched):
            report.skipped.append(file.name)
            continue
        validated = _ingest_file(con, home, file, as_of, context.run_id, report, context)
        if validated:
            upsert_delta(con, validated, extract.unique, _record_load(con, home, validated, as_of, context.run_id))


def _same_bytes(path: Path, loaded: dict[str, int | None], untouched: set[str] = frozenset()) -> bool:
    """Whether the file holds the bytes of a file loaded before (by sha256). Neither is hashed here: a file
    loaded before and untouched since (its fingerprint as loaded: every delta of the school year, each night),
    nor a file of a size none of them had (reading it takes its sha256: 0.6 s for a 580 MB file)."""
    if untouched and file_fingerprint(path) in untouched:
        return True
    size = path.stat().st_size
    if not any(known is None or known == size for known in loaded.values()):
        return False
    return file_sha256(path) in loaded


def no_data_message(extract: Extract, landing: Path, as_of: date, rejected: list[str]) -> str:
    """One sentence, in Japanese and English, for a required department without any usable data."""
    found = f"読めなかったファイル rejected: {'; '.join(rejected)}" if rejected else "ファイルがありません no such file"
    return (f"{extract.label}（{extract.english}）の使えるデータがないため、今夜の判定を中止しました — "
            f"no usable {extract.english} data: expected {extract.file_pattern} dated on or before {as_of} "
            f"in {landing} ({found}), and nothing was loaded before.")


def _metadata(extract: Extract, report: NightReport, current: tuple | None, home: MimamoriHome,
              as_of: date) -> dict:
    files = [
        {"file": v.read.file.name, "sha256": v.read.sha256, "encoding": v.read.encoding,
         "rows_read": v.read.rows_read, "rows_loaded": v.rows_loaded, "rows_quarantined": v.rows_quarantined,
         "rows_kept_unchanged": v.rows_kept, "extra_columns": v.read.extra_columns}
        for v in report.validated
    ]
    reasons: dict[str, int] = {}
    for v in report.validated:
        for r, n in v.reasons.items():
            reasons[r] = reasons.get(r, 0) + n
    md = {
        "as_of": as_of.isoformat(),
        "department": extract.department,
        "files_read": dg.MetadataValue.json(files),
        "rows_read": sum(v.read.rows_read for v in report.validated),
        "rows_loaded": sum(v.rows_loaded for v in report.validated),
        "rows_quarantined": sum(v.rows_quarantined for v in report.validated),
        "quarantine_reasons": dg.MetadataValue.json(reasons),
        "rejected_files": dg.MetadataValue.json(report.rejected),
        "quarantine_folder": dg.MetadataValue.path(str(home.layout.quarantine(as_of))),
    }
    if len(report.validated) == 1:
        v = report.validated[0]
        md |= {"file": v.read.file.name, "sha256": v.read.sha256, "encoding": v.read.encoding}
    if current:
        md |= {"table_rows": dg.MetadataValue.int(int(current[0])), "data_extracted_on": str(current[1]),
               "table": f"raw.{extract.name}"}
    return md


def _checks(extract: Extract, report: NightReport, current: tuple | None) -> list[dg.AssetCheckResult]:
    newest_date = report.newest.extracted_on if report.newest else None
    data_date = current[1] if current else None
    # stale: the table does not hold the newest file dated ≤ T (missing, older, or tonight's was rejected)
    stale = data_date is None or bool(report.rejected) or (newest_date is not None and data_date < newest_date)
    shares = {v.read.file.name: v.rows_quarantined / max(v.read.rows_read, 1) for v in report.validated}
    return [
        dg.AssetCheckResult(check_name="file_accepted", passed=not report.rejected,
                            severity=dg.AssetCheckSeverity.ERROR,
                            metadata={"rejected": dg.MetadataValue.json(report.rejected)}),
        dg.AssetCheckResult(check_name="rows_reconcile", passed=all(v.reconciles() for v in report.validated),
                            metadata={"files": len(report.validated)}),
        dg.AssetCheckResult(check_name="quarantine_share",
                            passed=all(s <= MAX_QUARANTINE_SHARE for s in shares.values()),
                            severity=dg.AssetCheckSeverity.WARN,
                            metadata={"share_by_file": dg.MetadataValue.json(shares)}),
        dg.AssetCheckResult(check_name="data_current", passed=not stale, severity=dg.AssetCheckSeverity.WARN,
                            description=None if not stale else (
                                f"{extract.name}: in use is the extract of {data_date or 'none'}; "
                                f"newest file dated ≤ T is {newest_date or 'none'}"),
                            metadata={"data_extracted_on": str(data_date), "newest_file_on": str(newest_date)}),
    ]


def _current(con, extract: Extract) -> tuple | None:
    if not table_exists(con, f"raw.{extract.name}"):
        return None
    return con.execute(f"SELECT count(*) FROM raw.{extract.name}").fetchone()[0], data_in_use(con, extract)[1]


def build_extract_asset(extract: Extract) -> dg.AssetsDefinition:
    kind = "full snapshot: the newest file dated ≤ T" if extract.snapshot else \
        "daily delta: every file dated ≤ T, each loaded once (by sha256); a later file's row wins"

    @dg.asset(
        key=["raw", extract.name],
        group_name=extract.group,
        kinds={"csv", "pandera", "duckdb"},
        owners=["team:mimamori-data"],
        retry_policy=dg.RetryPolicy(max_retries=2, delay=10),  # a file still being copied, a busy disk
        tags={"role": "ingest", "department": extract.group},
        description=f"{extract.department} — {extract.description} ({kind}). Loaded into the restricted "
                    f"store as raw.{extract.name}; bad rows go to quarantine/<as-of>/<file>.csv.",
        check_specs=[dg.AssetCheckSpec(name, asset=["raw", extract.name], description=d)
                     for name, d in CHECKS.items()],
    )
    def _extract_asset(context: dg.AssetExecutionContext, home: MimamoriHome,
                       night_lock: NightLock) -> dg.MaterializeResult:
        as_of = run_as_of(context)
        files = landing_files(home.landing_dir, as_of)[extract.name]
        report = NightReport(newest=files[-1] if files else None)
        with connect(home.root) as con:
            discard_stage(con, extract.name)  # rows a killed night left staged
            ingest = _ingest_snapshot if extract.snapshot else _ingest_deltas
            ingest(con, home, extract, files, as_of, report, context)
            if not table_exists(con, f"raw.{extract.name}"):
                if extract.name in config.operations()["required_extracts"]:
                    raise dg.Failure(description=no_data_message(extract, home.landing_dir, as_of, report.rejected),
                                     allow_retries=False)
                create_empty(con, extract.name)  # the night goes on; the domain is reported as not judged
                log_file(con, ExtractFile(home.landing_dir / extract.file_pattern, extract.name, None),
                         status="missing", as_of=as_of, run_id=context.run_id,
                         message="no usable file dated ≤ T and nothing loaded before")
            current = _current(con, extract)
        metadata = _metadata(extract, report, current, home, as_of)
        metadata["files_already_loaded"] = len(report.skipped)
        return dg.MaterializeResult(metadata=metadata, check_results=_checks(extract, report, current))

    return _extract_asset


extract_assets = [build_extract_asset(e) for e in EXTRACTS.values()]
