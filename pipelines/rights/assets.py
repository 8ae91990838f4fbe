"""Residents' rights (../shared/spec/rights.md): the requests the central data manager accepted, read from
the landing folder, and what they do to the restricted store before the models run."""

import dagster as dg

from pipelines.core import config
from pipelines.core.resources import MimamoriHome, NightLock, run_as_of
from pipelines.core.store import connect, table_exists
from pipelines.ingest.extracts import ExtractFile, ExtractRejected, file_sha256, write_quarantine
from pipelines.ingest.load import log_file
from pipelines.rights.requests import (
    PERSON_TABLES,
    apply_corrections,
    count_excluded,
    ensure_tables,
    exclusions,
    mark_columns,
    read_files,
    read_request,
    repartition,
    request_files,
    store_request,
)
from schemas.contract import EXTRACTS

REQUESTS = dg.AssetKey(["rights", "requests"])
APPLIED = dg.AssetKey(["rights", "applied"])


@dg.asset(
    key=REQUESTS,
    group_name="residents_rights",
    kinds={"csv", "pandera", "duckdb"},
    owners=["team:mimamori-data"],
    tags={"role": "ingest"},
    description="訂正 corrections, 利用停止 suspensions and 同意 consents accepted by the municipality "
                "(<landing>/teisei_|teishi_|doui_<YYYYMMDD>.csv), each file read once; bad rows to quarantine.",
    check_specs=[dg.AssetCheckSpec("file_accepted", asset=REQUESTS),
                 dg.AssetCheckSpec("rows_reconcile", asset=REQUESTS)],
)
def residents_requests(context: dg.AssetExecutionContext, home: MimamoriHome,
                       night_lock: NightLock) -> dg.MaterializeResult:
    as_of, run_id = run_as_of(context), context.run_id
    read, rejected = [], []
    with connect(home.root) as con:
        ensure_tables(con)
        seen = read_files(con)
        for file in request_files(home.landing_dir, as_of):
            if file_sha256(file.path) in seen:
                continue
            extract_file = ExtractFile(file.path, file.kind, file.dated)
            try:
                result = read_request(file, as_of)
            except ExtractRejected as e:
                rejected.append(str(e))
                digest = file_sha256(file.path)
                log_file(con, extract_file, status="rejected", as_of=as_of, run_id=run_id, message=e.problem,
                         sha256=digest)
                home.audit.append("request_file_rejected", file=file.name, sha256=digest, problem=e.problem,
                                  run_id=run_id)
                continue
            validated = result.validated
            write_quarantine(validated, home.layout.quarantine(as_of))

            def record(validated=validated, extract_file=extract_file, file=file) -> None:
                log_file(con, extract_file, status="loaded", as_of=as_of, run_id=run_id, validated=validated)
                home.audit.append("request_file_read", file=file.name, kind=file.kind,
                                  size=validated.read.size_bytes, sha256=validated.read.sha256,
                                  rows_read=validated.read.rows_read, rows_loaded=validated.rows_loaded,
                                  rows_quarantined=validated.rows_quarantined, run_id=run_id)

            store_request(con, file, result, as_of, record)
            read.append(validated)
    files = [{"file": v.read.file.name, "rows_read": v.read.rows_read, "rows_loaded": v.rows_loaded,
              "rows_quarantined": v.rows_quarantined} for v in read]
    return dg.MaterializeResult(
        metadata={"files_read": dg.MetadataValue.json(files), "rejected_files": dg.MetadataValue.json(rejected)},
        check_results=[
            dg.AssetCheckResult(check_name="file_accepted", passed=not rejected, severity=dg.AssetCheckSeverity.WARN,
                                metadata={"rejected": dg.MetadataValue.json(rejected)}),
            dg.AssetCheckResult(check_name="rows_reconcile", passed=all(v.reconciles() for v in read))])


@dg.asset(
    key=APPLIED,
    group_name="residents_rights",
    deps=[REQUESTS, dg.AssetKey(["raw", "reviews"]), *[dg.AssetKey(["raw", n]) for n in EXTRACTS]],
    kinds={"duckdb"},
    owners=["team:mimamori-data"],
    tags={"role": "governance"},
    description="Before the models: every row of a suspended person (and in consent mode of anyone outside "
                "a consenting child's household) set aside in raw.set_aside_<extract>; accepted corrections "
                "applied to the rows (marked, so that reasons say 訂正済); corrections the departments' data now "
                "agrees with reported as reflected.",
)
def rights_applied(context: dg.AssetExecutionContext, home: MimamoriHome,
                   night_lock: NightLock) -> dg.MaterializeResult:
    as_of, gov = run_as_of(context), config.governance()
    with connect(home.root) as con:
        ensure_tables(con)
        mark_columns(con)
        persons = exclusions(con, as_of, gov["lawful_basis"])
        for name, person in PERSON_TABLES.items():
            if table_exists(con, f"raw.{name}"):
                repartition(con, name, person)
        corrections = apply_corrections(con, as_of)
        excluded = count_excluded(con, as_of, context.run_id)
    home.audit.append("rights_applied", as_of=as_of.isoformat(), lawful_basis=gov["lawful_basis"],
                      persons_set_aside=persons, rows_excluded_tonight=excluded,
                      corrections_applied=corrections.applied, corrections_reflected=corrections.reflected,
                      run_id=context.run_id)
    return dg.MaterializeResult(metadata={
        "lawful_basis": gov["lawful_basis"], "persons_set_aside": dg.MetadataValue.json(persons),
        "rows_excluded_tonight": dg.MetadataValue.json(excluded),
        "corrections_applied": dg.MetadataValue.json(corrections.applied),
        "corrections_reflected": dg.MetadataValue.json(corrections.reflected),
        "corrections_without_row": dg.MetadataValue.json(corrections.not_found)})
