"""A department's own file layout, connected without code: ``config/layouts/<extract>.yml``.

The input contract (../shared/spec/extracts.md) is ours; a real system writes its own headers, codes
(``01`` for 生活保護), date formats, and often fixed-width CP932 records without a header. A layout file
says how to read one extract's files into the contract's columns; after that the same normalisation,
pandera schemas and quarantine apply, and quarantine files keep the department's own line numbers and
column names. Without a layout file, an extract is read as the contract says.

    extract: fukushi
    file: "WELF_{YYYYMMDD}.csv"        # the file name, with the extraction date
    encoding: auto                     # auto (UTF-8 with or without BOM, else CP932) | cp932 | utf-8
    format: csv                        # csv (with a header row) | fixed (byte ranges, no header)
    record_length: 62                  # fixed: every record's length in bytes (optional)
    columns:                           # each contract column (by its Japanese name) from the file
      宛名番号: {header: 宛名ＣＤ}         # csv: the file's header name
      制度: {header: 制度ＣＤ, codes: {"01": 生活保護, "02": 児童扶養手当}}
      開始日: {header: 開始年月日, date_format: "%Y%m%d"}
      終了日: {bytes: [36, 43], name: 終了日}   # fixed: 1-based byte positions, both included

Layouts are read from ``config/layouts/`` (or the folder in MIMAMORI_LAYOUTS) and checked at start:
an error names the file, the key and the problem.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl
import yaml

from pipelines.core.config import CONFIG_DIR
from schemas.contract import EXTRACTS, Column, Extract

ENV = "MIMAMORI_LAYOUTS"
ENCODINGS = ("auto", "cp932", "utf-8", "utf-8-sig")
LINE = "_line"
CHUNK_LINES = 1_000_000  # fixed-width records decoded per batch (bounded memory)


class LayoutError(ValueError):
    def __init__(self, path: Path, key: str, problem: str):
        self.path, self.key, self.problem = Path(path), key, problem
        super().__init__(f"{Path(path).name}: {key}: {problem}")


@dataclass(frozen=True)
class Source:
    column: Column  # the contract's column
    name: str  # the department's name for it (its header, or the layout's name of a fixed field)
    byte_range: tuple[int, int] | None = None  # fixed: 0-based start, end (exclusive)
    codes: dict[str, str] = field(default_factory=dict)  # the department's code → the contract's value
    date_format: str | None = None  # strptime format, when the contract's forms do not cover it


@dataclass(frozen=True)
class Layout:
    path: Path
    contract: Extract
    pattern: re.Pattern
    encoding: str
    format: str
    sources: tuple[Source, ...]
    record_length: int | None = None

    @property
    def extract(self) -> Extract:
        """The contract's extract in the department's column names: what its quarantine files show."""
        by_name = {s.column.name: s.name for s in self.sources}
        columns = tuple(replace(c, japanese=by_name.get(c.name, c.japanese)) for c in self.contract.columns)
        return replace(self.contract, columns=columns, headers_required=tuple(
            s.name for s in self.sources if s.column.required))

    def match(self, file_name: str):
        """The extraction date of a file of this layout, or None."""
        m = self.pattern.match(file_name)
        if not m:
            return None
        try:
            return datetime.strptime(m["date"], "%Y%m%d").date()
        except ValueError:
            return None


def load_layout(path: Path) -> Layout:
    """A layout file, checked: every error names the file, the key and the problem."""
    path = Path(path)
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise LayoutError(path, "(yaml)", f"not valid YAML: {e}") from None
    if not isinstance(spec, dict):
        raise LayoutError(path, "(file)", "a layout is a mapping of keys (extract, file, format, columns)")
    name = spec.get("extract")
    if name not in EXTRACTS:
        raise LayoutError(path, "extract", f"{name!r} is not an extract of the contract ({', '.join(EXTRACTS)})")
    contract = EXTRACTS[name]
    pattern = str(spec.get("file", ""))
    if pattern.count("{YYYYMMDD}") != 1:
        raise LayoutError(path, "file", f"{pattern!r} must hold {{YYYYMMDD}} once, where the extraction date is")
    regex = re.compile("^" + re.escape(pattern).replace(re.escape("{YYYYMMDD}"), r"(?P<date>\d{8})") + "$")
    encoding = spec.get("encoding", "auto")
    if encoding not in ENCODINGS:
        raise LayoutError(path, "encoding", f"{encoding!r} is not one of {', '.join(ENCODINGS)}")
    form = spec.get("format", "csv")
    if form not in ("csv", "fixed"):
        raise LayoutError(path, "format", f"{form!r} is csv or fixed")
    columns = spec.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise LayoutError(path, "columns", "give each contract column's source (header or bytes)")
    contract_columns = {c.japanese: c for c in contract.columns}
    sources = []
    for japanese, source in columns.items():
        key = f"columns.{japanese}"
        if japanese not in contract_columns:
            raise LayoutError(path, key, f"not a column of {name} in the contract ({', '.join(contract_columns)})")
        if not isinstance(source, dict):
            raise LayoutError(path, key, "give header: or bytes:")
        column = contract_columns[japanese]
        codes = source.get("codes") or {}
        if not isinstance(codes, dict):
            raise LayoutError(path, f"{key}.codes", "a mapping of the department's code to the contract's value")
        codes = {str(k): str(v) for k, v in codes.items()}
        if codes and column.codes:
            unknown = sorted(set(codes.values()) - set(column.codes))
            if unknown:
                raise LayoutError(path, f"{key}.codes", f"maps to {', '.join(unknown)}, not in the contract's code "
                                                         f"list ({', '.join(column.codes)})")
        date_format = source.get("date_format")
        if date_format is not None:
            if column.kind != "date":
                raise LayoutError(path, f"{key}.date_format", f"{japanese} is not a date")
            try:
                datetime.strptime(datetime(2026, 1, 31).strftime(date_format), date_format)
            except ValueError:
                raise LayoutError(path, f"{key}.date_format", f"{date_format!r} is not a strptime format") from None
        if form == "csv":
            if "header" not in source:
                raise LayoutError(path, key, "a CSV layout names the file's header (header:)")
            sources.append(Source(column, str(source["header"]).strip(), None, codes, date_format))
        else:
            span = source.get("bytes")
            if not (isinstance(span, list) and len(span) == 2 and all(isinstance(x, int) for x in span)
                    and 1 <= span[0] <= span[1]):
                raise LayoutError(path, f"{key}.bytes", f"{span!r} is not [first, last] byte positions (1-based)")
            sources.append(Source(column, str(source.get("name", japanese)), (span[0] - 1, span[1]), codes,
                                  date_format))
    missing = [c.japanese for c in contract.columns if c.required and c.japanese not in columns]
    if missing:
        raise LayoutError(path, "columns", f"the contract's required columns have no source: {', '.join(missing)}")
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise LayoutError(path, "columns", "two columns come from the same header or name")
    record_length = spec.get("record_length")
    if form == "fixed":
        spans = sorted(s.byte_range for s in sources)
        for (a, b), (c, d) in zip(spans, spans[1:]):
            if c < b:
                raise LayoutError(path, "columns", f"byte ranges overlap: {a + 1}–{b} and {c + 1}–{d}")
        if record_length is not None and (not isinstance(record_length, int) or record_length < spans[-1][1]):
            raise LayoutError(path, "record_length", f"{record_length!r} is shorter than the last field's end "
                                                     f"({spans[-1][1]})")
    return Layout(path, contract, regex, encoding, form, tuple(sources), record_length)


def layouts_dir() -> Path:
    return Path(os.environ.get(ENV) or CONFIG_DIR / "layouts")


@cache
def _load_folder(folder: str, stamp: tuple) -> dict[str, Layout]:
    out: dict[str, Layout] = {}
    for path in sorted(Path(folder).glob("*.yml")):
        layout = load_layout(path)
        if layout.contract.name in out:
            raise LayoutError(path, "extract", f"a second layout for {layout.contract.name} "
                                               f"(also {out[layout.contract.name].path.name})")
        out[layout.contract.name] = layout
    return out


def active() -> dict[str, Layout]:
    """The layouts in use, by extract (none: every extract as the contract says)."""
    folder = layouts_dir()
    if not folder.is_dir():
        return {}
    stamp = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(folder.glob("*.yml")))
    return _load_folder(str(folder), stamp)


# ------------------------------------------------------------------------------------------ reading


def mapped(raw: pl.DataFrame, layout: Layout) -> pl.DataFrame:
    """The department's text in the contract's terms: its codes to the contract's, its dates to ISO. The
    raw frame stays as it was, for quarantine."""
    exprs = []
    for s in layout.sources:
        col = pl.col(s.name)
        text = col.str.strip_chars(" \u3000")
        if s.codes:
            col = pl.when(text.is_in(list(s.codes))).then(text.replace(s.codes)).otherwise(col)
        if s.date_format:
            parsed = text.str.to_date(s.date_format, strict=False)
            col = pl.when(parsed.is_not_null()).then(parsed.dt.to_string("%Y-%m-%d")).otherwise(col)
        exprs.append(col.alias(s.name))
    return raw.with_columns(exprs)


LEAD = np.zeros(256, dtype=bool)
LEAD[0x81:0xA0] = True
LEAD[0xE0:0xFD] = True


def fixed_fields(data: bytes, layout: Layout, first_line: int = 1) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Records of fixed-width CP932 (or UTF-8) bytes, cut by the layout's byte ranges, vectorised.

    Returns (the fields as text with _line, problems (_line, problem), blank lines). A record shorter than
    the last field's end, of another length than record_length, or a double-byte character cut by a field's
    boundary is a problem of its row, named; the other fields of that row are still decoded.
    """
    buffer = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buffer == 0x0A)
    if len(buffer) and (not len(ends) or ends[-1] != len(buffer) - 1):
        ends = np.append(ends, len(buffer))  # a last line without its line end
    starts = np.concatenate(([0], ends[:-1] + 1)) if len(ends) else np.array([], dtype=np.int64)
    lengths = ends - starts
    lengths = lengths - ((lengths > 0) & (buffer[np.maximum(ends - 1, 0)] == 0x0D))  # CRLF
    lines = np.arange(first_line, first_line + len(starts))
    blank = lengths == 0
    starts, lengths, lines = starts[~blank], lengths[~blank], lines[~blank]
    width = max(s.byte_range[1] for s in layout.sources)
    columns: dict[str, list] = {LINE: [lines]}
    problems: list[pl.DataFrame] = []
    for lo in range(0, len(starts), CHUNK_LINES):
        hi = min(lo + CHUNK_LINES, len(starts))
        s, n, ln = starts[lo:hi], lengths[lo:hi], lines[lo:hi]
        grid = _grid(buffer, s, n, width)
        grid_problems = _record_problems(n, ln, width, layout)
        # byte by byte across all records: column-major, so that each step reads contiguous memory
        lead = np.ascontiguousarray(LEAD[grid].T) if layout.encoding != "utf-8" and grid.size and grid.max() >= 0x81 \
            else None
        trail = _trail_bytes(lead) if lead is not None else None
        for source in layout.sources:
            a, b = source.byte_range
            cut = (trail[a] | (lead[b - 1] & ~trail[b - 1])) if trail is not None \
                else np.zeros(hi - lo, dtype=bool)
            text, unreadable = _decode_field(grid[:, a:b], cut, layout.encoding)
            columns.setdefault(source.name, []).append(text)
            if cut.any():
                grid_problems.append(pl.DataFrame({LINE: ln[cut], "problem": f"{source.name}: {a + 1}〜{b}バイト目の"
                                                                            "境界で全角文字が切れています"}))
            if unreadable.any():
                grid_problems.append(pl.DataFrame({LINE: ln[unreadable], "problem": f"{source.name}: {a + 1}〜{b}"
                                                                                   "バイト目に読めないバイトがあります"}))
        problems += grid_problems
    frame = pl.DataFrame({k: (np.concatenate(v) if k == LINE else pl.concat([pl.Series(x) for x in v]))
                          for k, v in columns.items()}) if len(starts) else pl.DataFrame(
        schema={LINE: pl.Int64, **{s.name: pl.String for s in layout.sources}})
    frame = frame.with_columns(pl.col(LINE).cast(pl.Int64))
    schema = {LINE: pl.Int64, "problem": pl.String}
    problem_frame = pl.concat([p.with_columns(pl.col(LINE).cast(pl.Int64)) for p in problems]) if problems \
        else pl.DataFrame(schema=schema)
    return frame, problem_frame, int(blank.sum())


def _record_problems(lengths: np.ndarray, lines: np.ndarray, width: int, layout: Layout) -> list[pl.DataFrame]:
    out = []
    short = lengths < width
    if short.any():
        out.append(pl.DataFrame({LINE: lines[short], "problem": [f"レコードが短すぎます（{n}バイト、{width}バイト必要）"
                                                                 for n in lengths[short]]}))
    if layout.record_length is not None:
        other = (lengths != layout.record_length) & ~short
        if other.any():
            out.append(pl.DataFrame({LINE: lines[other], "problem": [
                f"レコード長が{n}バイトです（{layout.record_length}バイトのはず）" for n in lengths[other]]}))
    return out


def _grid(buffer: np.ndarray, starts: np.ndarray, lengths: np.ndarray, width: int) -> np.ndarray:
    """The records as rows of ``width`` bytes (short ones padded with spaces). Records evenly spaced (one
    length, one line end: the usual fixed-width file) are a view of the file, without a copy."""
    rows = len(starts)
    if rows and (lengths >= width).all():
        stride = int(starts[1] - starts[0]) if rows > 1 else int(lengths[0])
        if rows == 1 or (np.diff(starts) == stride).all():
            end = int(starts[0]) + stride * rows
            if end <= len(buffer):
                return buffer[int(starts[0]):end].reshape(rows, stride)[:, :width]
    grid = np.full((rows, width), 0x20, dtype=np.uint8)
    take = min(width, int(lengths.max()) if rows else 0)
    index = starts[:, None] + np.arange(take)[None, :]
    inside = np.arange(take)[None, :] < lengths[:, None]
    grid[:, :take][inside] = buffer[index[inside]]
    return grid


def _trail_bytes(lead: np.ndarray) -> np.ndarray:
    """Per record and byte: whether the byte is the second byte of a CP932 double-byte character, read from
    the record's start (column by column, over all records at once)."""
    trail = np.zeros(lead.shape, dtype=bool)  # (byte, record), as ``lead``
    for j in range(1, lead.shape[0]):
        np.logical_and(lead[j - 1], ~trail[j - 1], out=trail[j])
    return trail


def _decode_field(field_bytes: np.ndarray, cut: np.ndarray, encoding: str) -> tuple[pl.Series, np.ndarray]:
    """One field of every record: its text (spaces at the end stripped; none: null), with the rows whose
    bytes do not decode. Cut fields are blanked (the cut is their problem); the rest decoded in one go."""
    rows = field_bytes.shape[0]
    if cut.any():
        field_bytes = field_bytes.copy()
        field_bytes[cut] = 0x20
    lines = np.concatenate([field_bytes, np.full((rows, 1), 0x0A, dtype=np.uint8)], axis=1).tobytes()
    codec = "cp932" if encoding in ("auto", "cp932") else "utf-8"
    utf8 = lines.decode(codec, errors="replace").encode("utf-8")
    series = pl.read_csv(io.BytesIO(utf8), has_header=False, separator="\x1f", quote_char=None, new_columns=["v"],
                         schema_overrides={"v": pl.String}, raise_if_empty=False)["v"] if rows else pl.Series([], dtype=pl.String)
    if series.len() < rows:  # a last field of nothing but spaces reads as no line at all
        series = series.extend(pl.Series([None] * (rows - series.len()), dtype=pl.String))
    unreadable = series.str.contains("\ufffd", literal=True).fill_null(False).to_numpy()
    series = series.str.strip_chars_end(" \u3000")
    return series.replace("", None), unreadable
