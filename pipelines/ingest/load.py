"""Loading a validated extract into the restricted store: a snapshot replaced (or diffed), a delta upserted, a
file relabelled, each with its load log entry in the same transaction (a file is loaded once or not)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone

import duckdb
import polars as pl

from pipelines.core.failpoints import failpoint
from pipelines.core.store import LOAD_LOG, incoming_transaction, table_exists
from pipelines.ingest.extracts import ExtractFile, ValidatedExtract
from pipelines.ingest.line_index import replace_index
from pipelines.ingest.normalize import PROBLEMS, normalise
from schemas.contract import EXTRACTS


def log_file(con: duckdb.DuckDBPyConnection, file: ExtractFile, *, status: str, as_of: date, run_id: str,
             validated: ValidatedExtract | None = None, message: str = "", sha256: str = "",
             skipped: int | None = None, excluded: int | None = None) -> None:
    read = validated.read if validated else None
    row = {"extract": file.extract, "file_name": file.name, "extracted_on": file.extracted_on,
           "sha256": read.sha256 if read else sha256,
           "size_bytes": read.size_bytes if read else (file.path.stat().st_size if file.path.exists() else None),
           "encoding": read.encoding if read else None, "status": status, "message": message,
           "rows_read": read.rows_read + (skipped or 0) if read else None,
           "rows_loaded": validated.rows_loaded - (excluded or 0) if validated else None,
           "rows_quarantined": validated.rows_quarantined if validated else None,
           "as_of": as_of, "run_id": run_id, "logged_at": datetime.now(timezone.utc),
           "rows_skipped": skipped, "rows_excluded": excluded,
           "file_fingerprint": read.fingerprint if read and status == "loaded" else None}
    con.execute(f"INSERT INTO {LOAD_LOG} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))


@dataclass(frozen=True)
class HeldSnapshot:
    sha256: str
    extracted_on: date
    size_bytes: int | None
    fingerprint: str | None  # of the file loaded (none for a relabelling)


def current_snapshot(con: duckdb.DuckDBPyConnection, extract: str) -> HeldSnapshot | None:
    """The file the department's table holds now (the newest successful load, or its relabelling)."""
    row = con.execute(f"SELECT sha256, extracted_on, size_bytes, file_fingerprint FROM {LOAD_LOG} WHERE extract = ? "
                      "AND status IN ('loaded', 'unchanged') ORDER BY logged_at DESC LIMIT 1", [extract]).fetchone()
    return HeldSnapshot(*row) if row else None


def loaded_files(con: duckdb.DuckDBPyConnection, extract: str) -> dict[str, int | None]:
    """sha256 → size of every file of the extract loaded so far."""
    rows = con.execute(f"SELECT sha256, any_value(size_bytes) FROM {LOAD_LOG} WHERE extract = ? AND status = 'loaded' "
                       "GROUP BY sha256", [extract])
    return dict(rows.fetchall())


def loaded_fingerprints(con: duckdb.DuckDBPyConnection, extract: str) -> set[str]:
    """The fingerprints of the extract's files as they were when loaded (``ingest.file_fingerprint``)."""
    rows = con.execute(f"SELECT DISTINCT file_fingerprint FROM {LOAD_LOG} WHERE extract = ? AND status = 'loaded' "
                       "AND file_fingerprint IS NOT NULL", [extract])
    return {fingerprint for (fingerprint,) in rows.fetchall()}


def with_provenance(valid: pl.DataFrame, file_name: str | None, extracted_on: date | None) -> pl.DataFrame:
    return valid.with_columns(_source_file=pl.lit(file_name, pl.String), _extracted_on=pl.lit(extracted_on, pl.Date)) \
        .rename({"_line": "_source_line"})


def _incoming(validated: ValidatedExtract):
    """The valid rows as an Arrow table with their provenance (no pandas on the way), or the name of the
    table they were staged in when the file was read in batches (``pipelines.ingest.streaming``)."""
    if validated.staged:
        return validated.staged
    file = validated.read.file
    return with_provenance(validated.valid, file.name, file.extracted_on).to_arrow()


def replace_snapshot(con: duckdb.DuckDBPyConnection, validated: ValidatedExtract,
                     before_commit: Callable[[], None] = lambda: None) -> None:
    """A full snapshot replaces the department's table in one transaction, with ``before_commit``
    (the load log's entry) in the same transaction: a kill leaves the old table and no entry, or both new.

    A snapshot read as a diff (``pipelines.ingest.line_index``) keeps the rows of its unchanged lines in place,
    renumbered and relabelled, drops the others and adds its new lines' rows: the same table as copying
    the whole file in (1.2 s for fukuoka's 1.6 M residents), for the few hundred rows that changed."""
    extract, file = validated.read.file.extract, validated.read.file
    try:
        with incoming_transaction(con, _incoming(validated)):
            if validated.kept:
                table = f"raw.{extract}"
                con.execute(f"DELETE FROM {table} WHERE _source_line NOT IN (SELECT old_line FROM {validated.kept})")
                con.execute(f"UPDATE {table} t SET _source_line = k.new_line, _source_file = ?, _extracted_on = ? "
                            f"FROM {validated.kept} k WHERE t._source_line = k.old_line", [file.name, file.extracted_on])
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
            else:
                con.execute(f"CREATE OR REPLACE TABLE raw.{extract} AS SELECT * FROM incoming")
            if table_exists(con, f"raw.set_aside_{extract}"):  # rows set aside from the file it replaces
                con.execute(f"DELETE FROM raw.set_aside_{extract}")
            replace_index(con, extract, validated.line_hashes, validated.read.sha256, validated.header_line,
                          validated.read.encoding)
            before_commit()
            failpoint(f"ingest_load:{validated.read.file.extract}")
    finally:
        if validated.kept:
            con.execute(f"DROP TABLE IF EXISTS {validated.kept}")


def create_empty(con: duckdb.DuckDBPyConnection, extract: str) -> None:
    """The department's table with its typed columns and no row: a department that never sent a usable
    file is 'no data' to the models (its signals do not fire), not a missing table that stops them."""
    text = {"_line": pl.Int64} | {c.japanese: pl.String for c in EXTRACTS[extract].columns}
    typed = normalise(pl.DataFrame(schema=text), EXTRACTS[extract]).drop(PROBLEMS)
    with incoming_transaction(con, with_provenance(typed, None, None).to_arrow()):
        con.execute(f"CREATE TABLE IF NOT EXISTS raw.{extract} AS SELECT * FROM incoming WITH NO DATA")


def relabel_snapshot(con: duckdb.DuckDBPyConnection, file: ExtractFile) -> None:
    """A snapshot byte-identical to the one in use: the table now stands for the newer file (same rows)."""
    con.execute(f"UPDATE raw.{file.extract} SET _source_file = ?, _extracted_on = ?", [file.name, file.extracted_on])


def upsert_delta(con: duckdb.DuckDBPyConnection, validated: ValidatedExtract, key: tuple[str, ...],
                 before_commit: Callable[[], None] = lambda: None) -> None:
    """A delta file's rows replace the rows of the same key from files extracted no later than it; the
    load log's entry (``before_commit``) lands in the same transaction, so a file is loaded once or not."""
    extract = validated.read.file.extract
    table = f"raw.{extract}"
    on = " AND ".join(f"t.{k} = i.{k}" for k in key)
    incoming = _incoming(validated)
    with incoming_transaction(con, incoming):
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM incoming WITH NO DATA")
        had_rows = con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT 1)").fetchone()[0] > 0
        side = f"raw.set_aside_{extract}"
        if table_exists(con, side):  # a newer row for a key set aside replaces it there too
            con.execute(f"DELETE FROM {side} t USING incoming i WHERE {on} AND t._extracted_on <= i._extracted_on")
        if had_rows:
            con.execute(f"DELETE FROM {table} t USING incoming i WHERE {on} AND t._extracted_on <= i._extracted_on")
            con.execute(f"INSERT INTO {table} BY NAME SELECT i.* FROM incoming i "
                        f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {on})")
            _check_unique(con, table, key)
        elif isinstance(incoming, str) and incoming.startswith("raw."):  # the first file, staged in the store
            con.execute(f"DROP TABLE {table}")  # (pipelines/ingest/streaming.py): it becomes the table, not copied
            con.execute(f"ALTER TABLE {incoming} RENAME TO {extract}")
        else:  # the first file (or the first after the table emptied): one file's rows, unique by its pandera
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")  # check, nothing to replace
        before_commit()
        failpoint(f"ingest_load:{extract}")


def _check_unique(con: duckdb.DuckDBPyConnection, table: str, key: tuple[str, ...]) -> None:
    """One row per key among the keys this delta touched. With the table unique before, that keeps it
    unique after, without grouping all of it (13 M attendance rows at fukuoka) every night.

    Grouped by a 64-bit hash of the key (a delta re-sending the school year touches 13 M string keys,
    which would take gigabytes); a hash shared by two rows is then confirmed on the keys themselves, so
    a collision cannot refuse a good delta, and a real duplicate cannot pass.
    """
    t_key, i_key = ", ".join(f"t.{k}" for k in key), ", ".join(f"i.{k}" for k in key)
    shared = f"""SELECT hash({t_key}) AS h FROM {table} t
                 WHERE hash({t_key}) IN (SELECT hash({i_key}) FROM incoming i)
                 GROUP BY h HAVING count(*) > 1"""
    duplicates = con.execute(f"SELECT {t_key}, count(*) FROM {table} t WHERE hash({t_key}) IN ({shared}) "
                             "GROUP BY ALL HAVING count(*) > 1 LIMIT 3").fetchall()
    if duplicates:
        raise RuntimeError(f"{table}: more than one row for {key} = {duplicates}; the delta was not loaded")
