"""Reading one department file under the contract: decode, parse, normalise, validate, split.

A file either yields (valid rows, quarantined rows with reasons) whose counts add up to the rows read,
or it is rejected whole with an ``ExtractRejected`` naming the file, the line and the problem. The file
itself is only ever read.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandera.polars as pa
import polars as pl

from pipelines.ingest.layouts import active, fixed_fields, mapped
from pipelines.ingest.normalize import PROBLEMS, normalise
from schemas.contract import EXTRACTS, Extract
from schemas.extracts import SCHEMAS

FILE_PATTERN = re.compile(r"^(?P<extract>[a-z]+)_(?P<stamp>\d{8})\.csv$")
BOM = b"\xef\xbb\xbf"
CHUNK = 64 * 1024 * 1024
LINE = "_line"  # the row's line number in the source file (the header is line 1)


class ExtractRejected(Exception):
    """A file that cannot be read as the contract. The message names the file, the line and the problem."""

    def __init__(self, path: Path, line: int | None, problem: str):
        self.path, self.line, self.problem = Path(path), line, problem
        where = f" {line}行目" if line else ""
        super().__init__(f"{self.path.name}{where}: {problem}")


@dataclass(frozen=True)
class ExtractFile:
    path: Path
    extract: str
    extracted_on: date

    @property
    def name(self) -> str:
        return self.path.name


def landing_files(landing: Path, as_of: date) -> dict[str, list[ExtractFile]]:
    """Every contract file in the landing folder dated ≤ as_of, oldest first, by extract. An extract with
    a layout file (pipelines/ingest/layouts.py) is known by the layout's file name instead."""
    layouts = active()
    found: dict[str, list[ExtractFile]] = {name: [] for name in EXTRACTS}
    for path in sorted(p for p in Path(landing).iterdir() if p.is_file()) if Path(landing).is_dir() else []:
        for name, layout in layouts.items():
            stamp = layout.match(path.name)
            if stamp and stamp <= as_of:
                found[name].append(ExtractFile(path, name, stamp))
        m = FILE_PATTERN.match(path.name)
        if not m or m["extract"] not in EXTRACTS or m["extract"] in layouts:
            continue
        try:
            stamp = date(int(m["stamp"][:4]), int(m["stamp"][4:6]), int(m["stamp"][6:]))
        except ValueError:
            continue
        if stamp <= as_of:
            found[m["extract"]].append(ExtractFile(path, m["extract"], stamp))
    for files in found.values():
        files.sort(key=lambda f: (f.extracted_on, f.name))
    return found


RACY_SECONDS = 1.0  # a file changed this recently has no fingerprint yet (see file_fingerprint)


def file_fingerprint(path: Path) -> str | None:
    """What tells a file's bytes unchanged without reading them, as git's index does: its device, inode,
    size, and modification and change times (ns). Writing or replacing the file moves its change time,
    which no tool can set back. None for a file changed in the last RACY_SECONDS: a second write within
    the same clock tick could leave its times as they were."""
    st = os.stat(path)
    if time.time_ns() - st.st_ctime_ns < RACY_SECONDS * 1e9:
        return None
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


# ------------------------------------------------------------------------------------------ decoding


# A child Python (isolated, no site: it starts in ~20 ms) that decodes a byte range of a file strictly and
# writes UTF-8 to stdout. It reads the file itself: piping the bytes in through Python costs more than
# decoding them.
_DECODER = ("import sys\n"
            "path, encoding, lo, hi = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])\n"
            "with open(path, 'rb') as f:\n"
            "    f.seek(lo)\n"
            "    sys.stdout.buffer.write(f.read(hi - lo).decode(encoding).encode('utf-8'))\n")
PARALLEL_FROM = 32 * 1024 * 1024


def transcode(data: bytes, encoding: str, path: Path | None = None, skip: int = 0) -> bytes:
    """Decoded strictly, as UTF-8; ``data`` is the file at ``path`` less its first ``skip`` bytes (a BOM).

    Python's CJK codecs hold the GIL, so a large file is decoded by one child process per core, each
    reading its share of the file, split at line ends (0x0A is never part of a CP932 or UTF-8
    character): fukuoka's 580 MB attendance file 5.3 s -> 3-4 s. Any failure there is decoded again
    here, which gives the exact UnicodeDecodeError (its start is the byte offset in ``data``).
    """
    parts = os.cpu_count() or 1
    if path is not None and len(data) >= PARALLEL_FROM and parts > 1:
        # a file in another encoding fails here at once (a CP932 header is not UTF-8), with its offset
        codecs.getincrementaldecoder(encoding)(errors="strict").decode(data[:1 << 20], final=False)
        decoded = _transcode_in_children(data, encoding, path, skip, parts)
        if decoded is not None:
            return decoded
    return _transcode_here(data, encoding)


def _transcode_in_children(data: bytes, encoding: str, path: Path, skip: int, parts: int) -> bytes | None:
    bounds = [0]
    for i in range(1, parts):
        cut = data.find(b"\n", max(len(data) * i // parts, bounds[-1]))
        if cut < 0:
            break
        bounds.append(cut + 1)
    bounds.append(len(data))
    children = [subprocess.Popen([sys.executable, "-I", "-S", "-c", _DECODER, str(path), encoding, str(lo + skip),
                                  str(hi + skip)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                for lo, hi in zip(bounds, bounds[1:])]
    with ThreadPoolExecutor(len(children)) as pool:  # one read to the end per pipe, outside the GIL
        outputs = list(pool.map(lambda c: c.stdout.read(), children))
    if any(c.wait() != 0 for c in children):
        return None
    return b"".join(outputs)


def _transcode_here(data: bytes, encoding: str) -> bytes:
    """Decode strictly in chunks and return UTF-8; UnicodeDecodeError.start is the file's byte offset."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    out = io.BytesIO()
    for lo in range(0, len(data), CHUNK):
        try:
            out.write(decoder.decode(data[lo:lo + CHUNK], final=lo + CHUNK >= len(data)).encode("utf-8"))
        except UnicodeDecodeError as e:
            raise UnicodeDecodeError(e.encoding, data, lo + e.start, lo + e.end, e.reason) from None
    if len(data) == 0:
        return b""
    return out.getvalue()


def decode(path: Path, data: bytes) -> tuple[str, bytes]:
    """(encoding, UTF-8 bytes without BOM). UTF-8 with BOM, then UTF-8, then CP932; never a silent guess.

    A CP932 file is (in practice) never valid UTF-8, so trying UTF-8 first cannot misread one. When
    neither reads, the error reported is the one of the encoding that read further.
    """
    if data.startswith(BOM):
        candidates = [("utf-8-sig", "utf-8", BOM)]
    else:
        candidates = [("utf-8", "utf-8", b""), ("cp932", "cp932", b"")]
    # (offset, label) only: an exception kept here would hold this frame, and through it the caller's
    # frames and their data frames, in a reference cycle until Python's cycle collector ran
    errors: list[tuple[int, str]] = []
    for label, codec, skip in candidates:
        try:
            return label, transcode(data[len(skip):], codec, path, len(skip))
        except UnicodeDecodeError as e:
            errors.append((e.start + len(skip), label))
    offset, label = max(errors, key=lambda x: x[0])
    line = data.count(b"\n", 0, offset) + 1
    bad = data[offset:offset + 2].hex(" ")
    raise ExtractRejected(path, line, f"文字コード {label} として読めないバイトがあります"
                                      f"（バイト位置 {offset}、0x{bad}）")


# ------------------------------------------------------------------------------------------ parsing


@dataclass
class ReadResult:
    file: ExtractFile
    encoding: str
    sha256: str
    size_bytes: int
    raw: pl.DataFrame  # _line + the contract's columns as text (Japanese headers)
    shape_problems: pl.DataFrame  # _line, problem: lines whose field count differs from the header
    extra_columns: list[str]
    blank_lines: int
    extract: Extract | None = None  # the columns read, in the file's own names (a layout's), if not the contract's
    mapped: pl.DataFrame | None = None  # raw with a layout's codes and dates in the contract's terms

    rows_total: int | None = None  # read in batches: the file's rows (raw then holds none)
    fingerprint: str | None = None  # the file's, taken before it was read (``file_fingerprint``)

    @property
    def rows_read(self) -> int:
        return self.raw.height if self.rows_total is None else self.rows_total


def read_extract(file: ExtractFile, extract: Extract | None = None) -> ReadResult:
    """A file as text in the extract's columns: by the contract, or by the extract's layout file."""
    if extract is None:
        layout = active().get(file.extract)
        if layout is not None:
            return read_with_layout(file, layout)
    extract = extract or EXTRACTS[file.extract]
    data = file.path.read_bytes()
    if not data[:65536].strip(BOM + b" \r\n\t") and len(data) <= 65536:
        raise ExtractRejected(file.path, 1, "ファイルが空です（ヘッダー行がありません）")
    encoding, text = decode(file.path, data)
    return _parse_csv(file, data, encoding, text, extract)


def read_with_layout(file: ExtractFile, layout) -> ReadResult:
    """A department's own layout (config/layouts/<extract>.yml): CSV with its headers, or fixed-width
    records cut by byte ranges; its codes and date formats mapped to the contract's for validation, its
    own text and column names kept for quarantine."""
    data = file.path.read_bytes()
    if not data.strip(BOM + b" \r\n\t"):
        raise ExtractRejected(file.path, 1, "ファイルが空です")
    if layout.format == "csv":
        encoding, text = _decode_as(file.path, data, layout.encoding)
        read = _parse_csv(file, data, encoding, text, layout.extract)
    else:
        read = read_fixed_width(file, data, layout)
        read.sha256, read.size_bytes = hashlib.sha256(data).hexdigest(), len(data)
    read.extract = layout.extract
    read.mapped = mapped(read.raw, layout)
    return read


def read_fixed_width(file: ExtractFile, data: bytes, layout, first_line: int = 1) -> ReadResult:
    """Fixed-width records (a whole file, or a batch of whole records starting at ``first_line``) as text
    in the layout's column names; a column the layout does not hold is empty."""
    raw, problems, blank = fixed_fields(data, layout, first_line)
    encoding = "cp932" if layout.encoding in ("auto", "cp932") else layout.encoding
    columns = layout.extract.columns
    raw = raw.select(LINE, *[c.japanese for c in columns if c.japanese in raw.columns]).with_columns(
        [pl.lit(None, pl.String).alias(c.japanese) for c in columns if c.japanese not in raw.columns])
    return ReadResult(file, f"{encoding} (fixed-width)", "", 0, raw, problems, [], blank, layout.extract)


def _decode_as(path: Path, data: bytes, encoding: str) -> tuple[str, bytes]:
    if encoding == "auto":
        return decode(path, data)
    skip = BOM if data.startswith(BOM) else b""
    try:
        return encoding, transcode(data[len(skip):], "cp932" if encoding == "cp932" else "utf-8", path, len(skip))
    except UnicodeDecodeError as e:
        offset = e.start + len(skip)
        raise ExtractRejected(path, data.count(b"\n", 0, offset) + 1, f"文字コード {encoding} として読めないバイトがあります"
                                                                      f"（バイト位置 {offset}）") from None


def _parse_csv(file: ExtractFile, data: bytes, encoding: str, text: bytes, extract: Extract) -> ReadResult:
    header = parse_header(file, text, extract)
    body = text[text.find(b"\n") + 1:] if b"\n" in text else b""
    raw, shape, blank = parse_body(file, body, header, extract, first_line=2)
    extra = [h for h in header if h not in extract.headers]
    return ReadResult(file, encoding, hashlib.sha256(data).hexdigest(), len(data), raw, shape, extra, blank, extract)


def parse_header(file: ExtractFile, text: bytes, extract: Extract) -> list[str]:
    """The header's column names; a file without the contract's required columns is rejected at line 1."""
    header_line = text[:text.find(b"\n")] if b"\n" in text[:65536] else text
    header = [h.strip(" \u3000\t\r") for h in next(csv.reader([header_line.decode("utf-8")]))]
    missing = [c for c in extract.required_headers if c not in header]
    if missing:
        known = sum(1 for h in header if h in extract.headers)
        problem = "ヘッダー行がありません" if known == 0 else f"必須列がありません: {', '.join(missing)}"
        raise ExtractRejected(file.path, 1, problem)
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise ExtractRejected(file.path, 1, f"同じ列名が複数あります: {', '.join(dup)}")
    return header


def parse_body(file: ExtractFile, body: bytes, header: list[str], extract: Extract,
               first_line: int, lines: pl.DataFrame | None = None) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Lines of UTF-8 text after the header, the first of them the file's line ``first_line``: (the
    contract's columns as text with _line, the lines whose field count differs from the header, blank lines).
    ``lines``: the body's ``split_lines``, when the caller has them already."""
    lines = split_lines(body) if lines is None else lines
    fields = lines.select(
        pl.col("line").str.replace_all('"[^"]*"', "").str.count_matches(",").fill_null(-1) + 1).to_series()
    max_fields = max(int(fields.max() or 0), len(header))
    names = header + [f"_extra_field_{i}" for i in range(max_fields - len(header))]
    schema = {n: pl.String for n in names}
    raw = pl.read_csv(io.BytesIO(body), has_header=False, schema=schema, missing_columns="insert",
                      truncate_ragged_lines=True, empty_string_is_null=False, raise_if_empty=False) \
        if lines.height else pl.DataFrame(schema=schema)
    if raw.height != lines.height:
        first = lines.with_row_index().filter(
            pl.col("line").str.count_matches('"').fill_null(0) % 2 == 1)["index"].first()
        raise ExtractRejected(file.path, (first or 0) + first_line,
                              "引用符の中に改行があるか、引用符が閉じていません（1行1件の契約に合いません）")
    raw = raw.with_columns(pl.int_range(first_line, raw.height + first_line).alias(LINE), _fields=fields)
    blank = raw.select(pl.col("_fields") == 0).to_series() | lines["line"].is_null()
    raw = raw.filter(~blank)
    shape = raw.filter(pl.col("_fields") != len(header)).select(
        LINE, problem=pl.format("列数が{}です（ヘッダーは{}列）", pl.col("_fields"), pl.lit(len(header))))
    keep = [c.japanese for c in extract.columns]
    raw = raw.select(LINE, *[pl.col(c) if c in header else pl.lit(None, pl.String).alias(c) for c in keep])
    return raw, shape, int(blank.sum())


def split_lines(body: bytes) -> pl.DataFrame:
    """The lines (CR stripped), to count each line's fields and to find blank lines."""
    lines = pl.read_csv(io.BytesIO(body), separator="\x1f", quote_char=None, has_header=False,
                        new_columns=["line"], infer_schema=False, raise_if_empty=False)
    return lines if lines.width else pl.DataFrame(schema={"line": pl.String})


# ------------------------------------------------------------------------------------------ validating


@dataclass
class ValidatedExtract:
    read: ReadResult
    valid: pl.DataFrame  # typed, English column names, with _line
    quarantine: pl.DataFrame  # 行番号, 理由, then the original text columns
    reasons: dict[str, int] = field(default_factory=dict)  # reason (without the value) → rows
    quarantined_keys: pl.DataFrame | None = None  # _line + the unique key of rows that normalised yet failed
    # a check (if asked): with the valid rows' keys, every readable row's
    staged: str | None = None  # read in batches: the valid rows wait in this table of the store, not in `valid`
    rows_staged: int = 0
    # a snapshot loaded as a diff (pipelines/ingest/line_index.py): its lines whose rows the table keeps, renumbered
    kept: str | None = None  # the table of (new_line, old_line)
    rows_kept: int = 0
    line_hashes: pl.DataFrame | None = None  # every line's hashes: the index of this file, once loaded
    header_line: str | None = None
    diff_note: str = ""  # why a file that could have been a diff was read whole

    @property
    def rows_loaded(self) -> int:
        return self.rows_staged + self.rows_kept if self.staged else self.valid.height

    @property
    def rows_quarantined(self) -> int:
        return self.quarantine.height

    def reconciles(self) -> bool:
        return self.read.rows_read == self.rows_loaded + self.rows_quarantined


def validate(read: ReadResult, as_of: date, extract: Extract | None = None,
             schema: pa.DataFrameSchema | None = None, keys: tuple[str, ...] = ()) -> ValidatedExtract:
    """Normalise, run the extract's pandera schema, and split valid rows from quarantined ones."""
    extract = extract or read.extract or EXTRACTS[read.file.extract]
    typed = normalise(read.mapped if read.mapped is not None else read.raw, extract)
    if read.shape_problems.height:  # (a join over every row: 4 s for 13 M attendance rows, so only when needed)
        # a malformed line (fields missing, a character cut) is said as such, not by what follows from it
        shape = read.shape_problems.group_by(LINE).agg(pl.col("problem").unique(maintain_order=True))
        typed = typed.join(shape, on=LINE, how="left").with_columns(
            pl.coalesce("problem", PROBLEMS).alias(PROBLEMS)).drop("problem")
    readable = typed.filter(pl.col(PROBLEMS).list.len() == 0).drop(PROBLEMS)
    schema = schema or SCHEMAS[extract.name](read.file.extracted_on)
    schema_problems = _schema_problems(readable, schema, extract)
    problems = pl.concat([
        typed.filter(pl.col(PROBLEMS).list.len() > 0).select(LINE, pl.col(PROBLEMS).alias("problem"))
        .explode("problem"),
        schema_problems,
    ])
    by_line = problems.group_by(LINE).agg(理由=pl.col("problem").unique(maintain_order=True).str.join("; "))
    valid = readable.join(by_line, on=LINE, how="anti")
    quarantine = read.raw.join(by_line, on=LINE, how="inner", suffix="_file").sort(LINE).select(
        pl.col(LINE).alias("行番号"), "理由",
        # a column of the file's own named 理由 (a correction's reason) keeps its value beside ours
        *[pl.col(f"{c.japanese}_file" if c.japanese == "理由" else c.japanese).alias(
            f"{c.japanese}（ファイルの値）" if c.japanese == "理由" else c.japanese) for c in extract.columns])
    reasons = problems.select(pl.col("problem").str.replace(r"「.*」", "")).to_series().value_counts()
    return ValidatedExtract(read, valid, quarantine,
                            {r: int(n) for r, n in zip(reasons["problem"], reasons["count"])},
                            readable.join(by_line.select(LINE), on=LINE, how="semi").select(LINE, *keys)
                            if keys else None)


def _schema_problems(df: pl.DataFrame, schema: pa.DataFrameSchema, extract: Extract) -> pl.DataFrame:
    """pandera's failure cases as (line, reason): the check's Japanese error, and the value for column checks."""
    empty = pl.DataFrame(schema={LINE: pl.Int64, "problem": pl.String})
    try:
        schema.validate(df.drop(LINE), lazy=True)
        return empty
    except pa.errors.SchemaErrors as e:
        cases = e.failure_cases
    if "index" not in cases.columns or cases["index"].null_count() == cases.height:
        raise ValueError(f"{extract.name}: schema failed as a whole: {cases}")  # a bug, not bad data
    # For a duplicate, name the line that holds the key first.
    first = pl.col(LINE).min().over(list(extract.unique)) if extract.unique else pl.lit(None)
    lines = df.select(LINE, first.alias("first_line")).with_row_index("index").with_columns(
        pl.col("index").cast(pl.Int32))
    japanese = {c.name: c.japanese for c in extract.columns}
    return cases.filter(pl.col("index").is_not_null()).join(lines, on="index").select(
        pl.col(LINE).cast(pl.Int64),
        problem=pl.when(pl.col("check") == "not_nullable").then(
            pl.format("{}: 必須項目が空です", pl.col("column").replace(japanese)))
        .when(pl.col("check").str.ends_with("が重複しています")).then(
            pl.format("{}（{}行目と同じ）", "check", "first_line"))
        .when(pl.col("schema_context") == "Column").then(pl.format("{}（「{}」）", "check", "failure_case"))
        .otherwise(pl.col("check")))  # a row-level rule across columns: its message says it all


def write_quarantine(validated: ValidatedExtract, folder: Path) -> Path | None:
    """``<folder>/<file stem>.csv`` in UTF-8 with BOM (Excel opens it in Japanese); none when no row failed."""
    path = Path(folder) / f"{validated.read.file.path.stem}.csv"
    if validated.rows_quarantined == 0:
        path.unlink(missing_ok=True)
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        out.write(BOM)
        validated.quarantine.write_csv(out)
    return path
