"""A large extract read, validated and staged in bounded batches, so that memory stays flat in the file's
size (fukuoka's 580 MB attendance file took 5.9 GB read whole; a yokohama one would take 13 GB).

The file is cut at line ends into batches of about ``batch_bytes``; each batch is decoded (strictly, in
the encoding the first batch with a non-ASCII byte settles), parsed, normalised and checked by the
extract's pandera schema exactly as a whole file is (``pipelines.ingest.extracts``), and its valid rows wait in a
staging table until the file's load replaces or updates the department's table in one transaction. A
snapshot's rows wait in a temporary table of the connection (``staged_<extract>``: DuckDB keeps it within
its memory limit and spills the rest; a killed process leaves nothing), then are copied in bulk. A delta
file's rows wait in the store itself (``raw._staged_<extract>``), which the first file of an empty table
takes over by a rename instead of a copy: fukuoka's 13 M attendance rows load 1.7 s sooner, with 3 s less
CPU. (Not for snapshots: the registry's names and addresses compress more slowly batch by batch than in
one parallel copy, 4.6 s -> 5.9 s.) A stage a killed night left in the store is dropped before the
extract is loaded again (``discard_stage``). Results are the whole-file path's, row for row: the same
quarantine lines and reasons, the same reconciliation.

The one check no batch can make alone is the file's unique key (a key may repeat across batches).
Each batch's pandera check sees its own rows; the keys of the readable rows that failed a check are
staged beside the valid rows (whose keys are in their own stage). Each batch also hashes the keys of its
readable rows (64 bits, polars, in the batch's thread); after the last batch, when no two hashes are
equal no key repeats and the store is not asked (fukuoka's 13 M attendance keys: 0.2 s instead of 1.4 s
of grouping them in the store). Otherwise the store finds the keys repeated across batches among both
stages (grouped by a 64-bit hash, confirmed on the keys). A repeat gets the reason the whole-file check
gives, naming the key's first line in the file; a repeated row that was valid leaves the staged rows for
the quarantine, its text read again from its batch (duplicates are few, so that costs one batch's
decoding, not the file's).

A snapshot named in ``diff_snapshots`` (the registry) is read as a difference from the file its table
holds (``pipelines.ingest.line_index``): a line whose bytes a kept row was loaded from is returned as (new line,
old line) and not even decoded; the other lines are read as above, and the keys of the kept rows join the
search for repeats. Results are again the whole file's.
"""

from __future__ import annotations

import hashlib
import os
import re
from bisect import bisect_right
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from pipelines.core.config import operations
from pipelines.core.failpoints import failpoint
from pipelines.core.store import table_exists
from pipelines.ingest.extracts import (
    BOM,
    LINE,
    ExtractFile,
    ExtractRejected,
    ReadResult,
    ValidatedExtract,
    parse_body,
    parse_header,
    read_fixed_width,
    transcode,
    validate,
)
from pipelines.ingest.layouts import active, mapped
from pipelines.ingest.line_index import Previous, hash_lines, line_ends, load_previous
from pipelines.ingest.load import current_snapshot, with_provenance
from schemas.contract import EXTRACTS, Extract
from schemas.extracts import SCHEMAS

BATCH_BYTES = 32 * 1024 * 1024  # ~750k attendance records, a few hundred MB of frames while validated
BATCH_ENV = "MIMAMORI_INGEST_BATCH_BYTES"  # set: every file in batches of this size (tests, small machines)


def batch_bytes_for(file: ExtractFile) -> int | None:
    """The batch size to read this file in, or None to read it whole (small files; a snapshot loaded as a
    difference from the file before, ``diff_snapshots``, is read in batches whatever its size)."""
    forced = os.environ.get(BATCH_ENV)
    if forced:
        return int(forced)
    settings = operations()
    large = file.path.stat().st_size >= settings.get("ingest_batch_from_mb", 64) * 1024 * 1024 \
        or diffed(file.extract)
    return int(settings.get("ingest_batch_mb", 32) * 1024 * 1024) if large else None
WORK = "temp.main.staged"  # rows (a snapshot's) and keys waiting for their file's load: temporary tables
STORE_STAGE = "raw._staged"  # a delta file's rows waiting for their load, in the store
DUPLICATE = re.compile(r"（(\d+)行目と同じ）$")


@dataclass
class _Batch:
    offset: int  # byte offset of the batch in the file
    length: int
    first_line: int  # the file's line number of the batch's first byte (1: the header's, in a CSV)
    skip: int  # bytes before the first data line (a BOM; the header in the first batch is skipped after decoding)


class _Decoder:
    """Strict decoding of one file batch by batch, in one encoding for the whole file: UTF-8 with BOM,
    UTF-8, then CP932, settled by the first batch holding a non-ASCII byte (as ``ingest.decode`` does)."""

    def __init__(self, path: Path, encoding: str = "auto"):
        self.path = path
        self.settled: tuple[str, str] | None = None  # (label, codec)
        if encoding != "auto":  # a layout's declared encoding
            self.settled = (encoding, "cp932" if encoding == "cp932" else "utf-8")

    def __call__(self, chunk: bytes, offset: int, skip: int, line: int) -> tuple[str, bytes]:
        data = chunk[skip:]
        if self.settled is None and offset == 0 and skip:
            self.settled = ("utf-8-sig", "utf-8")
        candidates = [self.settled] if self.settled else [("utf-8", "utf-8"), ("cp932", "cp932")]
        errors: list[tuple[int, str]] = []
        for label, codec in candidates:
            try:
                text = transcode(data, codec, self.path, offset + skip)
            except UnicodeDecodeError as e:
                errors.append((e.start, label))
                continue
            if self.settled is None and not data.isascii():
                self.settled = (label, codec)
            return self.settled[0] if self.settled else label, text
        start, label = max(errors)
        at = offset + skip + start
        with open(self.path, "rb") as f:
            f.seek(at)
            bad = f.read(2).hex(" ")
        raise ExtractRejected(self.path, line + chunk.count(b"\n", 0, skip + start),
                              f"文字コード {label} として読めないバイトがあります（バイト位置 {at}、0x{bad}）")


def _chunks(path: Path, batch_bytes: int):
    """(offset, bytes) of the file cut after a line end every ~batch_bytes (0x0A is never inside a CP932
    or UTF-8 character)."""
    with open(path, "rb") as f:
        offset, rest = 0, b""
        while True:
            block = f.read(batch_bytes)
            data = rest + block
            if not block:
                if data:
                    yield offset, data
                return
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                rest = data
                continue
            yield offset, data[:cut]
            offset, rest = offset + cut, data[cut:]


class DiffAbandoned(Exception):
    """A snapshot that cannot be loaded as a diff against the file its table holds (another header or
    encoding, or a new line that does not decode or parse alone): it is read whole instead, which names
    the line at fault."""


def validate_in_batches(con: duckdb.DuckDBPyConnection, file: ExtractFile, as_of,
                        batch_bytes: int = BATCH_BYTES) -> ValidatedExtract:
    """The file's ValidatedExtract, its valid rows staged in ``temp.main.staged_<extract>``; a
    rejected file leaves nothing staged. A snapshot whose table holds an earlier file's rows keeps those
    of its unchanged lines (``pipelines.ingest.line_index``): only the other lines are staged."""
    try:
        previous = _previous(con, file)
        if previous is not None:
            try:
                return _validate_in_batches(con, file, as_of, batch_bytes, previous)
            except DiffAbandoned as abandoned:
                _drop_work(con, file.extract)
                validated = _validate_in_batches(con, file, as_of, batch_bytes, None)
                validated.diff_note = f"read whole: {abandoned}"
                return validated
        return _validate_in_batches(con, file, as_of, batch_bytes, None)
    except BaseException:
        _drop_work(con, file.extract)
        raise


def _drop_work(con: duckdb.DuckDBPyConnection, extract: str) -> None:
    for table in (stage_table(extract), *(f"{WORK}_{extract}_{part}" for part in ("keys", "kept"))):
        con.execute(f"DROP TABLE IF EXISTS {table}")


def diffed(extract: str) -> bool:
    """Whether the extract's files are loaded as a difference from the one before (``line_index``): a
    snapshot named in ``diff_snapshots`` (config/operations.yml) and read by the contract."""
    return EXTRACTS[extract].snapshot and extract in operations().get("diff_snapshots", []) \
        and active().get(extract) is None


def _previous(con: duckdb.DuckDBPyConnection, file: ExtractFile) -> Previous | None:
    """What a snapshot read by the contract may keep of the file its table holds (``line_index``)."""
    if not diffed(file.extract) or not table_exists(con, f"raw.{file.extract}"):
        return None
    held = current_snapshot(con, file.extract)
    return load_previous(con, file.extract, held.sha256, held.extracted_on, file.extracted_on) if held else None


def stage_table(extract: str) -> str:
    """Where a file's valid rows wait for its load: in the store for a delta, else a temporary table."""
    return f"{WORK}_{extract}" if EXTRACTS[extract].snapshot else f"{STORE_STAGE}_{extract}"


def discard_stage(con: duckdb.DuckDBPyConnection, extract: str) -> None:
    """Drop the rows a killed night left staged in the store for this extract."""
    con.execute(f"DROP TABLE IF EXISTS {STORE_STAGE}_{extract}")


def _validate_in_batches(con: duckdb.DuckDBPyConnection, file: ExtractFile, as_of, batch_bytes: int,
                         previous: Previous | None) -> ValidatedExtract:
    layout = active().get(file.extract)
    with open(file.path, "rb") as f:
        head = f.read(65537)
    if not head.strip(BOM + b" \r\n\t") and len(head) <= 65536:
        raise ExtractRejected(file.path, 1, "ファイルが空です" if layout is not None and layout.format != "csv"
                              else "ファイルが空です（ヘッダー行がありません）")
    extract = layout.extract if layout is not None else EXTRACTS[file.extract]  # in the file's column names
    schema = SCHEMAS[extract.name](file.extracted_on)
    unique = next((c for c in schema.checks if c.name == "unique_key"), None)
    key = extract.unique if unique is not None else ()
    stage, keys_table = stage_table(extract.name), f"{WORK}_{extract.name}_keys"
    kept_table, lines = f"{WORK}_{extract.name}_kept", []
    _drop_work(con, extract.name)
    con.execute("SET preserve_insertion_order = false")
    indexed = diffed(file.extract)  # its lines hashed, for the next file's diff

    reader = _BatchReader(file, extract, schema, key, as_of, batch_bytes, layout, previous, indexed)
    quarantines: list[pl.DataFrame] = []
    key_hashes: list[pl.Series] = []
    reasons: Counter = Counter()
    batches: list[_Batch] = []
    rows = blank = 0
    # the next batches are decoded and validated (two threads) while this one is written to the store:
    # polars and DuckDB work outside the GIL; at most two batches in flight, so memory stays bounded
    for batch, validated, raw_rows, blank_rows, hashes, line_hashes, kept in reader:
        _append(con, stage, with_provenance(validated.valid, file.name, file.extracted_on))
        if key:
            _append(con, keys_table, validated.quarantined_keys)
            key_hashes.append(hashes)
        if indexed:  # kept in memory until the load (32 bytes a line: 52 MB at fukuoka), not appended
            lines.append(line_hashes)
        if previous is not None:
            _append(con, kept_table, kept)
        quarantines.append(validated.quarantine)
        reasons.update(validated.reasons)
        rows, blank = rows + raw_rows, blank + blank_rows
        batches.append(batch)
        del validated
        if len(batches) == 3:
            failpoint(f"ingest_batch:{extract.name}")
    header, label, digest = reader.header, reader.label, reader.digest
    if header is None and (layout is None or layout.format == "csv"):
        raise ExtractRejected(file.path, 1, "ファイルが空です（ヘッダー行がありません）")

    first_lines = [b.first_line for b in batches]
    if previous is not None:  # a line repeated word for word: the first keeps the row, the others are new
        for validated in _demote_repeated_lines(con, reader, batches, first_lines, kept_table):
            _append(con, stage, with_provenance(validated.valid, file.name, file.extracted_on))
            if key:
                _append(con, keys_table, validated.quarantined_keys)
                key_hashes.append(_key_hashes(validated, key))
            quarantines.append(validated.quarantine)
            reasons.update(validated.reasons)
    quarantine = pl.concat(quarantines, how="vertical")
    if key:
        kept_keys = f"SELECT {', '.join(f't.{k}' for k in key)}, k.new_line FROM raw.{file.extract} t " \
                    f"JOIN {kept_table} k ON t._source_line = k.old_line" if previous is not None else None
        may_repeat = _hashes_repeat(key_hashes) or (
            kept_keys is not None and _meets_kept(con, stage, keys_table, file.extract, kept_table, key))
        repeats = _repeated_keys(con, stage, keys_table, key, first_lines, kept_keys) if may_repeat \
            else pl.DataFrame()
        if repeats.height:
            others = [c.error for c in schema.checks if c is not unique]
            quarantine = _mark_repeats(con, reader, batches, stage, quarantine, repeats, unique.error, others,
                                       reasons, kept_table if previous is not None else None)
        con.execute(f"DROP TABLE IF EXISTS {keys_table}")
    staged = con.execute(f"SELECT count(*) FROM {stage}").fetchone()[0]
    kept_rows = con.execute(f"SELECT count(*) FROM {kept_table}").fetchone()[0] if previous is not None else 0
    read = ReadResult(file, label, digest.hexdigest(), file.path.stat().st_size, pl.DataFrame(), pl.DataFrame(),
                      [h for h in header or [] if h not in extract.headers], blank, extract, rows_total=rows)
    reasons = {r: n for r, n in reasons.items() if n > 0}
    return ValidatedExtract(read, pl.DataFrame(), quarantine.sort("行番号"), reasons, staged=stage,
                            rows_staged=staged, kept=kept_table if previous is not None else None, rows_kept=kept_rows,
                            line_hashes=pl.concat(lines) if indexed and lines else None,
                            header_line=reader.header_line)


def _demote_repeated_lines(con: duckdb.DuckDBPyConnection, reader: "_BatchReader", batches: list[_Batch],
                           first_lines: list[int], kept_table: str):
    """The lines that matched a kept row another line matched first, no longer kept: validated as new
    (the row's key then repeats the first line's, as reading the whole file finds)."""
    demoted = con.execute(f"SELECT new_line FROM {kept_table} QUALIFY row_number() OVER "
                          "(PARTITION BY old_line ORDER BY new_line) > 1 ORDER BY new_line").pl()["new_line"]
    if not len(demoted):
        return
    con.execute(f"DELETE FROM {kept_table} WHERE new_line IN (SELECT unnest(?))", [demoted.to_list()])
    at = pl.Series([bisect_right(first_lines, line) - 1 for line in demoted.to_list()])
    for i in sorted(set(at.to_list())):
        read = reader.read_lines(batches[i], demoted.filter(at == i))
        yield validate(read, reader.as_of, reader.extract, reader.schema, keys=reader.key)


def _meets_kept(con: duckdb.DuckDBPyConnection, stage: str, keys_table: str, extract: str, kept_table: str,
                key: tuple[str, ...]) -> bool:
    """Whether a new line's key is one a kept row holds (new lines are few: the join is small)."""
    k = ", ".join(key)
    return con.execute(f"""SELECT count(*) FROM (SELECT {k} FROM {stage} UNION ALL SELECT {k} FROM {keys_table}) n
                           JOIN raw.{extract} t USING ({k})
                           WHERE t._source_line IN (SELECT old_line FROM {kept_table})""").fetchone()[0] > 0


def _key_hashes(validated: ValidatedExtract, key: tuple[str, ...]) -> pl.Series:
    """Every readable row's key hashed: the valid rows' and those of the rows that failed a check."""
    return pl.concat([validated.valid.select(key), validated.quarantined_keys.select(key)]).hash_rows()


class _BatchReader:
    """The file's batches in order: each read (by the contract, or by the department's layout: CSV with
    its own headers and codes, or fixed-width records), normalised and validated by pandera. With a
    ``previous`` file's index, a line whose text a kept row was loaded from is not read again: it is
    returned as (new_line, old_line) instead."""

    def __init__(self, file: ExtractFile, extract: Extract, schema, key: tuple[str, ...], as_of, batch_bytes: int,
                 layout=None, previous: Previous | None = None, indexed: bool = False):
        self.file, self.extract, self.schema, self.key, self.as_of = file, extract, schema, key, as_of
        self.batch_bytes, self.layout, self.previous, self.indexed = batch_bytes, layout, previous, indexed
        self.fixed_width = layout is not None and layout.format != "csv"
        self.decoder = _Decoder(file.path, layout.encoding if layout is not None else "auto")
        self.digest, self.header, self.label = hashlib.sha256(), None, ""
        self.header_line: str | None = None  # as decoded, for the next file's diff

    def __iter__(self):
        """Two batches at a time once the first has settled the header and the encoding (both cores: the
        decoding, parsing and pandera of one batch run partly in Python), results in the file's order."""
        pending: deque = deque()
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="mimamori-batch") as pool:
            for batch, chunk in self._chunks():
                if pending and (len(pending) >= 2 or not self._settled()):
                    yield pending.popleft().result()
                pending.append(pool.submit(self._validate, chunk, batch))
            while pending:
                yield pending.popleft().result()

    def _chunks(self):
        line = 1
        for offset, chunk in _chunks(self.file.path, self.batch_bytes):
            self.digest.update(chunk)
            yield _Batch(offset, len(chunk), line, len(BOM) if offset == 0 and chunk.startswith(BOM) else 0), chunk
            line += chunk.count(b"\n")

    def _settled(self) -> bool:
        return self.fixed_width or (self.header is not None and self.decoder.settled is not None)

    def _validate(self, chunk: bytes, batch: _Batch):
        read, lines, kept = self._read(chunk, batch, diff=True)
        validated = validate(read, self.as_of, self.extract, self.schema, keys=self.key)
        hashes = _key_hashes(validated, self.key) if self.key else None
        rows = read.raw.height + (kept.height if kept is not None else 0)
        return batch, validated, rows, read.blank_lines, hashes, lines, kept

    def read(self, chunk: bytes, batch: _Batch) -> ReadResult:
        """One batch's rows as text in the file's column names (a layout's codes and dates mapped), all of them."""
        return self._read(chunk, batch, diff=False)[0]

    def _read(self, chunk: bytes, batch: _Batch, diff: bool) -> tuple[ReadResult, pl.DataFrame | None,
                                                                      pl.DataFrame | None]:
        """(the rows read, the lines' hashes if indexed, the kept lines (new_line, old_line) if a diff)."""
        lines = kept = None
        if self.fixed_width:  # each field is decoded on its own (a character cut by a boundary is a row's problem)
            read = read_fixed_width(self.file, chunk, self.layout, batch.first_line)
            self.label = read.encoding
            if self.layout is not None:
                read.mapped = mapped(read.raw, self.layout)
            return read, None, None
        data, first_line, text = chunk[batch.skip:], batch.first_line, None
        previous = self.previous if diff else None
        if previous is None or batch.offset == 0 or self._codec() != _codec(previous.encoding):
            self.label, text = self.decoder(chunk, batch.offset, batch.skip, batch.first_line)
        if batch.offset == 0:
            self.header = parse_header(self.file, text, self.extract)
            self.header_line = (text[:text.find(b"\n")] if b"\n" in text else text).decode("utf-8")
            if previous is not None and self.header_line != previous.header:
                raise DiffAbandoned("its header differs from the earlier file's")
            text, first_line = (text[text.find(b"\n") + 1:] if b"\n" in text else b""), 2
            data = data[data.find(b"\n") + 1:] if b"\n" in data else b""
        if previous is not None and self._codec() not in (None, _codec(previous.encoding)):
            raise DiffAbandoned(f"it is in {self.label}, the earlier file in {previous.encoding}")
        if diff and self.indexed:  # by the file's bytes: a kept line need not even be decoded
            ends = line_ends(data)
            lines = hash_lines(data, ends, first_line)
            if previous is not None:
                text, numbers, kept = self._changed(data, ends, lines)
        try:
            raw, shape, blank = parse_body(self.file, text, self.header, self.extract,
                                           first_line if kept is None else 0)
        except ExtractRejected:
            if kept is None:
                raise
            raise DiffAbandoned("a new line cannot be read alone") from None  # whole, it names its line
        if kept is not None:  # the new lines' places in the file
            raw = raw.with_columns(numbers.gather(raw[LINE]).alias(LINE))
            shape = shape.with_columns(numbers.gather(shape[LINE]).alias(LINE))
        read = ReadResult(self.file, self.label, "", 0, raw, shape, [], blank, self.extract)
        if self.layout is not None:
            read.mapped = mapped(read.raw, self.layout)
        return read, lines, kept

    def _codec(self) -> str | None:
        return _codec(self.decoder.settled[0]) if self.decoder.settled else None

    def _changed(self, data: bytes, ends: np.ndarray, lines: pl.DataFrame) -> tuple[bytes, pl.Series, pl.DataFrame]:
        """(the decoded text of the lines no kept row was loaded from, their line numbers, the kept lines)."""
        old = self.previous.match(lines)
        is_kept = old >= 0
        kept = pl.DataFrame({"new_line": lines[LINE].filter(pl.Series(is_kept)), "old_line": old[is_kept]})
        new = np.flatnonzero(~is_kept)
        starts = np.concatenate([np.zeros(1, np.int64), ends[:-1]])
        body = b"".join(data[starts[i]:ends[i]] for i in new)
        if body and not body.endswith(b"\n"):
            body += b"\n"  # the file's last line, without its line end, is no longer last
        try:  # in the file's encoding, which the earlier file had: its kept lines decode as they did
            text = transcode(body, self._codec() or "utf-8")
        except UnicodeDecodeError:
            raise DiffAbandoned("a new line does not decode") from None  # whole, it names its byte
        return text, lines[LINE].gather(new), kept

    def read_lines(self, batch: _Batch, lines: pl.Series) -> ReadResult:
        """Some lines of one batch, read again from the file."""
        with open(self.file.path, "rb") as f:
            f.seek(batch.offset)
            chunk = f.read(batch.length)
        read = self.read(chunk, batch)
        read.raw = read.raw.filter(pl.col(LINE).is_in(lines.implode()))
        read.shape_problems = read.shape_problems.filter(pl.col(LINE).is_in(lines.implode()))
        if read.mapped is not None:
            read.mapped = read.mapped.filter(pl.col(LINE).is_in(lines.implode()))
        read.blank_lines = 0
        return read

    def reread(self, batch: _Batch, lines: pl.Series) -> pl.DataFrame:
        """The text of some lines of one batch, read again from the file."""
        return self.read_lines(batch, lines).raw


def _codec(label: str) -> str:
    return "utf-8" if label.startswith("utf-8") else "cp932"


def _append(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    con.register("batch", frame.to_arrow())
    try:
        create = f"TEMP TABLE IF NOT EXISTS {table.split('.')[-1]}" if table.startswith("temp.") else \
            f"TABLE IF NOT EXISTS {table}"
        con.execute(f"CREATE {create} AS SELECT * FROM batch WITH NO DATA")
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM batch")
    finally:
        con.unregister("batch")


def _hashes_repeat(key_hashes: list[pl.Series]) -> bool:
    """Whether two readable rows of the file may share a key: equal keys have equal hashes, so all hashes
    distinct means every key is (a shared hash is then confirmed or not on the keys, in the store)."""
    hashes = pl.concat(key_hashes) if key_hashes else pl.Series(dtype=pl.UInt64)
    return hashes.n_unique() < hashes.len()


def _repeated_keys(con: duckdb.DuckDBPyConnection, stage: str, keys_table: str, key: tuple[str, ...],
                   first_lines: list[int], kept_keys: str | None = None) -> pl.DataFrame:
    """(_line, first_line, _batch) of every readable row whose key an earlier line of the file holds: the
    valid rows' keys read from their stage, the others' from theirs (a second 13 M-row table of keys
    cost fukuoka's attendance a second of appends), and the kept rows' (a diff's: ``kept_keys``)."""
    k = ", ".join(key)
    same = " AND ".join(f"c.{c} IS NOT DISTINCT FROM f.{c}" for c in key)
    kept = f" UNION ALL {kept_keys}" if kept_keys else ""
    repeats = con.execute(f"""
        WITH readable AS (SELECT {k}, _source_line AS {LINE} FROM {stage}
                          UNION ALL SELECT {k}, {LINE} FROM {keys_table}{kept}),
             shared AS (SELECT hash({k}) AS h FROM readable GROUP BY h HAVING count(*) > 1),
             candidates AS (SELECT * FROM readable WHERE hash({k}) IN (SELECT h FROM shared)),
             firsts AS (SELECT {k}, min({LINE}) AS first_line FROM candidates GROUP BY ALL)
        SELECT c.{LINE} AS {LINE}, f.first_line FROM candidates c JOIN firsts f ON {same}
        WHERE c.{LINE} > f.first_line ORDER BY c.{LINE}""").pl()
    batch = [bisect_right(first_lines, line) - 1 for line in repeats[LINE].to_list()]  # the batch holding it
    return repeats.with_columns(_batch=pl.Series(batch, dtype=pl.Int32))


def _mark_repeats(con, reader: _BatchReader, batches: list[_Batch], stage: str, quarantine: pl.DataFrame,
                  repeats: pl.DataFrame, message: str, others: list[str], reasons: Counter,
                  kept_table: str | None = None) -> pl.DataFrame:
    """Each repeated key's reason as the whole file's check gives it (after the column checks' reasons,
    before the other row checks'); valid repeats move from the staged (or kept) rows to the quarantine."""
    first_of = dict(zip(repeats[LINE].to_list(), repeats["first_line"].to_list()))
    fixed = []
    for row in quarantine.iter_rows(named=True):
        first = first_of.pop(row["行番号"], None)
        if first is not None:
            row["理由"] = _with_repeat(row["理由"], f"{message}（{first}行目と同じ）", message, others, reasons)
        fixed.append(row)
    quarantine = pl.DataFrame(fixed, schema=quarantine.schema) if fixed else quarantine
    if not first_of:
        return quarantine
    moved = pl.DataFrame({LINE: list(first_of), "first_line": list(first_of.values())},
                         schema={LINE: pl.Int64, "first_line": pl.Int64}).join(
        repeats.select(LINE, "_batch"), on=LINE)
    con.register("moved", moved.to_arrow())
    try:
        con.execute(f"DELETE FROM {stage} WHERE _source_line IN (SELECT {LINE} FROM moved)")
        if kept_table:  # a kept row after a new line of its key: no longer kept
            con.execute(f"DELETE FROM {kept_table} WHERE new_line IN (SELECT {LINE} FROM moved)")
    finally:
        con.unregister("moved")
    text = pl.concat([reader.reread(batches[i], moved.filter(pl.col("_batch") == i)[LINE])
                      for i in sorted(set(moved["_batch"].to_list()))])
    reason = pl.format(f"{message}（{{}}行目と同じ）", "first_line")
    reasons.update(f"{message}（{f}行目と同じ）" for f in moved["first_line"].to_list())
    added = text.join(moved.select(LINE, "first_line"), on=LINE).select(
        pl.col(LINE).alias("行番号"), reason.alias("理由"),
        *[pl.col(c.japanese).alias(f"{c.japanese}（ファイルの値）" if c.japanese == "理由" else c.japanese)
          for c in reader.extract.columns])
    return pl.concat([quarantine, added.select(quarantine.columns)])


def _with_repeat(reason: str, repeat: str, message: str, others: list[str], reasons: Counter) -> str:
    parts = reason.split("; ")
    for i, part in enumerate(parts):
        if part.startswith(message) and DUPLICATE.search(part):  # the batch's own check: name the file's first line
            reasons[part] -= 1
            reasons[repeat] += 1
            parts[i] = repeat
            return "; ".join(parts)
    at = next((i for i, part in enumerate(parts) if part in others), len(parts))
    reasons[repeat] += 1
    return "; ".join(parts[:at] + [repeat] + parts[at:])
