"""The linkage of the 児童相談所 list as a Dagster asset: the data team's returned decisions read, the records
linked, the table raw.jisou_links written for the dbt models (signal C4), the night's review file made."""

import hashlib
import json
import os

import dagster as dg

from pipelines.core import config
from pipelines.core.resources import MimamoriHome, NightLock, run_as_of
from pipelines.core.store import connect, table_exists
from pipelines.ingest.extracts import write_quarantine
from pipelines.matching.bands import LINK, NONE, REVIEW
from pipelines.matching.model import Thresholds
from pipelines.matching.review import (
    LINKS_TABLE,
    current_decisions,
    decision_files,
    ensure_links_table,
    files_read,
    load_decisions,
    read_decisions,
    review_file,
    review_rows,
    write_review_xlsx,
)


def _read_returned(con, home: MimamoriHome, as_of, context) -> dict:
    """Each returned 照合確認 file not read before: rejected whole, or its rows loaded and quarantined."""
    done, counts = files_read(con), {"files": 0, "decisions": 0, "quarantined": 0, "not_judged": 0, "rejected": []}
    for path in decision_files(home.landing_dir):
        if hashlib.sha256(path.read_bytes()).hexdigest() in done:
            continue
        result = read_decisions(path, as_of)
        if result.rejected:
            context.log.error(f"{path.name}: rejected — {result.rejected}")
            home.audit.append("file_rejected", file=path.name, problem=result.rejected, run_id=context.run_id)
            counts["rejected"].append(f"{path.name}: {result.rejected}")
            continue
        write_quarantine(result.validated, home.layout.quarantine(as_of))
        load_decisions(con, result, as_of)
        v = result.validated
        home.audit.append("linkage_decisions_loaded", file=path.name, sha256=v.read.sha256, rows=v.rows_loaded,
                          quarantined=v.rows_quarantined, not_judged=result.skipped, run_id=context.run_id)
        counts["files"] += 1
        counts["decisions"] += v.rows_loaded
        counts["quarantined"] += v.rows_quarantined
        counts["not_judged"] += result.skipped
    return counts


def _write_links(con, decisions, as_of, version: str) -> None:
    con.register("links", decisions.to_arrow())
    con.execute(f"""CREATE OR REPLACE TABLE {LINKS_TABLE} AS
        SELECT case_number, band, address_code, match_probability, match_weight, method, explanation,
               runner_up_weight, pair_hash, ?::DATE AS as_of, ? AS model_version FROM links""", [as_of, version])
    con.unregister("links")


@dg.asset(
    key=["matching", "jisou_links"],
    deps=[dg.AssetKey(["raw", "jisou"]), dg.AssetKey(["raw", "jumin"])],
    group_name="guidance",
    kinds={"splink", "duckdb", "xlsx"},
    owners=["team:mimamori-data"],
    tags={"role": "linkage"},
    description="The 児童相談所 list linked to the registry's children with Splink (../shared/spec/linkage.md): "
                "raw.jisou_links, one row per record (link / review / none); the uncertain pairs in "
                "HOME/linkage/<as-of>/照合確認_<YYYYMMDD>.xlsx for the data team, whose returned decisions "
                "(<landing>/returns/照合確認_*.xlsx) are read first.",
)
def jisou_links(context: dg.AssetExecutionContext, home: MimamoriHome, night_lock: NightLock) -> dg.MaterializeResult:
    from pipelines.matching.link import run_linkage  # Splink: imported by the night that needs it

    as_of = run_as_of(context)
    thresholds = Thresholds.from_rules(config.rules())
    agreement = config.governance()["agreements"].get("jisou")
    with connect(home.root) as con:
        returned = _read_returned(con, home, as_of, context)
        jisou = con.sql("SELECT * FROM raw.jisou").pl() if table_exists(con, "raw.jisou") else None
        if jisou is not None and not jisou.is_empty() and agreement is None:
            context.log.error("児童相談所の名簿がありますが、協定が config/governance.yml (agreements.jisou) に記録されて"
                              "いないため照合しません — the 児童相談所 list is not linked nor used without its agreement "
                              "recorded in config/governance.yml (agreements.jisou: lawful_basis, name, signed_on)")
            jisou = None
        if jisou is None or jisou.is_empty():
            context.log.info("no 児童相談所 list to link")
            con.execute(f"DROP TABLE IF EXISTS {LINKS_TABLE}")
            ensure_links_table(con)
            return dg.MaterializeResult(metadata={"records": 0, "returned": dg.MetadataValue.json(returned)})
        jumin = con.sql("SELECT address_code, household_code, full_name, full_name_kana, birth_date, sex, address "
                        "FROM raw.jumin").pl()
        linkage = run_linkage(jisou, jumin, as_of, thresholds, current_decisions(con))
        _write_links(con, linkage.decisions, as_of, thresholds.model)
        rows = review_rows(con, linkage.decisions, as_of)
    folder = home.layout.linkage(as_of)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = review_file(folder, as_of)
    write_review_xlsx(rows, path, as_of)
    os.chmod(path, 0o600)
    (folder / "model.json").write_text(json.dumps(linkage.model, ensure_ascii=False, indent=1))
    os.chmod(folder / "model.json", 0o600)
    bands = linkage.decisions["band"].value_counts()
    count = {b: int(bands.filter(bands["band"] == b)["count"].sum()) for b in (LINK, REVIEW, NONE)}
    reviewed = int((linkage.decisions["method"] == "確認済").sum())
    home.audit.append("linkage_review_written", file=str(path), pairs=rows.height, agreement=agreement["name"],
                      run_id=context.run_id)
    context.log.info(f"児童相談所 list: {jisou.height} records — {count[LINK]} linked ({reviewed} by the data team's "
                     f"decision), {count[REVIEW]} to review in {path.name}, {count[NONE]} found in no resident")
    return dg.MaterializeResult(metadata={
        "records": jisou.height, "linked": count[LINK], "linked_by_decision": reviewed, "to_review": count[REVIEW],
        "no_link": count[NONE], "residents_compared": linkage.residents_compared,
        "pairs_scored": linkage.pairs.height, "model_version": thresholds.model,
        "agreement": f"{agreement['name']}（{agreement['signed_on']}）",
        "review_file": dg.MetadataValue.path(str(path)), "returned": dg.MetadataValue.json(returned),
    })
