"""The lines of the snapshot file a department's table holds, hashed: what lets the next file be loaded
as a diff. A registry (住民記録) is sent whole every night; at fukuoka 1.6 M lines, of which a few hundred
change from one night to the next.

A snapshot's row is a function of its line's bytes, the file's header and encoding, the code that reads
it, and the file's extraction date — the last only through checks that loosen as the date grows ("no
birth date after the extraction date"; tested for every snapshot's schema). So a row still in the table
as it was loaded (not corrected since, not set aside, not purged) is what a later file's line of the same
bytes would give. Each line of the later file is matched by its bytes' hash — two independently seeded
64-bit hashes and the length — to a row it may keep, renumbered; only the other lines are decoded,
parsed, normalised and checked (``pipelines.ingest.streaming``: the file's first batch is decoded whole, which
settles its header and encoding, and so is any batch before the encoding is settled).

The index belongs to one file (its sha256), one header, one encoding and one version of the reading code
(the signature below): anything else, or a department's own layout, and the file is read whole. Every
load that replaces the table without an index drops it. Which snapshots: ``diff_snapshots`` in
config/operations.yml (the registry, changed every night; not the tax file, changed once a year).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from functools import cache

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa

from pipelines.core.config import PROJECT_ROOT

META = "raw._line_index"  # extract → the file (sha256), header, encoding and code signature its index is of
LINE = "_line"
HASHES = ("line_hash_a", "line_hash_b", "line_length")
SEEDS = (0x5EED_A11, 0x0B5E_55ED)
# the code that turns a line into a row: a change to any of it and last night's rows are read again
READING_CODE = ("pipelines/ingest/extracts.py", "pipelines/ingest/normalize.py", "pipelines/ingest/streaming.py", "pipelines/ingest/line_index.py",
                "schemas/contract.py", "schemas/extracts.py")


def index_table(extract: str) -> str:
    return f"raw._line_index_{extract}"


@cache
def signature() -> str:
    """The reading code's version: its source files and polars' (whose hashes are stable within a version)."""
    root = PROJECT_ROOT
    digest = hashlib.sha256(pl.__version__.encode())
    for name in READING_CODE:
        digest.update((root / name).read_bytes())
    return digest.hexdigest()


def line_ends(text: bytes) -> np.ndarray:
    """The offset after each line of a file's bytes (after its 0x0A, never part of a character in CP932 or
    UTF-8; the last line's may have none)."""
    ends = (pl.Series(np.frombuffer(text, np.uint8)) == 0x0A).arg_true().to_numpy() + 1  # 3 x numpy's
    if text and (not len(ends) or ends[-1] != len(text)):
        ends = np.append(ends, len(text))
    return ends.astype(np.int64)


def hash_lines(data: bytes, ends: np.ndarray, first_line: int) -> pl.DataFrame:
    """(_line, the three hashes) of each line of ``data`` as the file's bytes (line end included), the
    first of them the file's line ``first_line``."""
    offsets = np.concatenate([np.zeros(1, np.int64), ends])
    lines = pl.from_arrow(pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(ends),
                                                           [None, pa.py_buffer(offsets), pa.py_buffer(data)]))
    return pl.DataFrame({
        LINE: pl.int_range(first_line, first_line + len(ends), eager=True, dtype=pl.Int64),
        HASHES[0]: lines.hash(SEEDS[0]),
        HASHES[1]: lines.hash(SEEDS[1]),
        HASHES[2]: pl.Series(np.diff(offsets), dtype=pl.Int64),
    })


@dataclass(frozen=True)
class Previous:
    """What the table holds of the file loaded last: its header and encoding, and the hashes of the lines
    whose rows are still there as loaded (sorted by the first hash), with their line numbers in that file."""

    header: str
    encoding: str
    hash_a: np.ndarray
    hash_b: np.ndarray
    length: np.ndarray
    old_line: np.ndarray

    def match(self, lines: pl.DataFrame) -> np.ndarray:
        """Each line's old line number, or -1 where no kept row was loaded from a line of its bytes."""
        if not len(self.hash_a):
            return np.full(lines.height, -1, np.int64)
        wanted = lines[HASHES[0]].to_numpy()
        order = np.argsort(wanted)  # sorted needles: 3 x faster than the file's order
        at = np.empty(len(wanted), np.int64)
        at[order] = np.minimum(np.searchsorted(self.hash_a, wanted[order]), len(self.hash_a) - 1)
        hit = (self.hash_a[at] == wanted) & (self.hash_b[at] == lines[HASHES[1]].to_numpy()) \
            & (self.length[at] == lines[HASHES[2]].to_numpy())
        return np.where(hit, self.old_line[at], -1)


def load_previous(con: duckdb.DuckDBPyConnection, extract: str, held_sha256: str, held_on: date,
                  extracted_on: date) -> Previous | None:
    """The rows of the file the table holds that a file extracted on ``extracted_on`` may keep, or None
    when its index is missing or of another file or code, or the new file is older than it."""
    if not _exists(con, META) or not _exists(con, index_table(extract)) or held_on > extracted_on:
        return None
    row = con.execute(f"SELECT header, encoding FROM {META} WHERE extract = ? AND sha256 = ? AND signature = ?",
                      [extract, held_sha256, signature()]).fetchone()
    if row is None:
        return None
    columns = {c for (c,) in con.execute("SELECT column_name FROM information_schema.columns WHERE "
                                         "table_catalog = current_database() AND table_schema = 'raw' "
                                         "AND table_name = ?", [extract]).fetchall()}
    untouched = "WHERE coalesce(len(_corrections), 0) = 0" if "_corrections" in columns else ""
    present = pl.from_arrow(con.execute(f"SELECT _source_line FROM raw.{extract} {untouched}").fetch_arrow_table())
    known = pl.from_arrow(con.execute(f"SELECT {', '.join(HASHES)}, {LINE} FROM {index_table(extract)}")
                          .fetch_arrow_table()).filter(pl.col(LINE).is_in(present["_source_line"].implode()))
    known = known.sort(HASHES[0])  # sorted here, not when written: 0.07 s against 0.12 s in the load
    known = {c: known[c].to_numpy() for c in known.columns}
    hash_a = known[HASHES[0]]
    # a first hash shared by two lines (two loaded lines cannot have the same bytes: their key would
    # repeat; 64 bits can still collide): neither is matched, both lines are read again
    alone = np.ones(len(hash_a), bool)
    shared = np.flatnonzero(hash_a[1:] == hash_a[:-1])
    alone[shared], alone[shared + 1] = False, False
    return Previous(row[0], row[1], *(np.asarray(known[c])[alone] for c in (*HASHES, LINE)))


def replace_index(con: duckdb.DuckDBPyConnection, extract: str, lines: pl.DataFrame | None, sha256: str,
                  header: str | None, encoding: str | None) -> None:
    """Inside the load's transaction: the index of the file just loaded, or none (a load without one)."""
    drop_index(con, extract)
    if lines is None or header is None:
        return
    con.register("line_hashes", lines.to_arrow())
    try:
        con.execute(f"CREATE TABLE {index_table(extract)} AS SELECT {LINE}, {', '.join(HASHES)} FROM line_hashes")
    finally:
        con.unregister("line_hashes")
    con.execute(f"INSERT INTO {META} VALUES (?, ?, ?, ?, ?)", [extract, sha256, header, encoding, signature()])


def drop_index(con: duckdb.DuckDBPyConnection, extract: str) -> None:
    con.execute(f"CREATE TABLE IF NOT EXISTS {META} (extract VARCHAR, sha256 VARCHAR, header VARCHAR, "
                "encoding VARCHAR, signature VARCHAR)")
    con.execute(f"DELETE FROM {META} WHERE extract = ?", [extract])
    con.execute(f"DROP TABLE IF EXISTS {index_table(extract)}")


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() "
                            "AND table_schema = ? AND table_name = ?", [schema, name]).fetchone()[0])
