"""`mimamori check`: what a department runs on its file before sending it. It reads the file exactly as
the nightly would (the contract, or the extract's layout file), says what it found and which rows would be
quarantined and why — by line and column, never a value — and answers PASS or FAIL. It writes nothing.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pipelines.ingest.extracts import (
    BOM,
    FILE_PATTERN,
    ExtractFile,
    ExtractRejected,
    read_extract,
    read_with_layout,
    validate,
)
from pipelines.ingest.layouts import Layout, active, load_layout
from schemas.contract import EXTRACTS

SHOW_LINES = 10


@dataclass
class CheckResult:
    file: Path
    extract: str
    layout: Path | None
    encoding: str | None = None
    columns_found: list[str] = field(default_factory=list)
    columns_missing: list[str] = field(default_factory=list)
    columns_extra: list[str] = field(default_factory=list)
    rows_read: int = 0
    quarantined: dict[str, list[int]] = field(default_factory=dict)  # reason (no value) → line numbers
    rejected: str | None = None

    @property
    def passed(self) -> bool:
        return self.rejected is None and not self.quarantined


def _header(data: bytes, layout: Layout | None) -> list[str] | None:
    if layout is not None and layout.format == "fixed":
        return None
    first = data.split(b"\n", 1)[0].removeprefix(BOM).rstrip(b"\r")
    for codec in ("utf-8", "cp932"):
        try:
            return [h.strip(" \u3000\t") for h in next(csv.reader([first.decode(codec)]))]
        except UnicodeDecodeError:
            continue
    return []


def check(path: Path, extract_name: str, layout_path: Path | None = None, as_of: date | None = None) -> CheckResult:
    path = Path(path)
    layout = load_layout(layout_path) if layout_path else active().get(extract_name)
    extract = layout.extract if layout else EXTRACTS[extract_name]
    result = CheckResult(path, extract_name, layout.path if layout else None)
    stamp = layout.match(path.name) if layout else None
    if stamp is None and (m := FILE_PATTERN.match(path.name)):
        try:
            stamp = date(int(m["stamp"][:4]), int(m["stamp"][4:6]), int(m["stamp"][6:]))
        except ValueError:
            stamp = None
    as_of = as_of or stamp or date.today()
    file = ExtractFile(path, extract_name, as_of)
    header = _header(path.read_bytes(), layout)
    expected = [s.name for s in layout.sources] if layout else extract.headers
    if header is not None:
        result.columns_found = [h for h in header if h in expected]
        result.columns_missing = [h for h in expected if h not in header]
        result.columns_extra = [h for h in header if h and h not in expected]
    try:
        read = read_with_layout(file, layout) if layout else read_extract(file, EXTRACTS[extract_name])
    except ExtractRejected as e:
        result.rejected = str(e)
        return result
    result.encoding = read.encoding
    validated = validate(read, as_of)
    result.rows_read = read.rows_read
    lines: dict[str, list[int]] = defaultdict(list)
    for line, reasons in validated.quarantine.select("行番号", "理由").iter_rows():
        for reason in reasons.split("; "):
            lines[re.sub(r"「.*?」|（「.*?」）", "", reason).strip()].append(line)
    result.quarantined = dict(sorted(lines.items(), key=lambda kv: kv[1][0]))
    return result


def render(r: CheckResult) -> str:
    out = [f"mimamori check — {r.file.name} as {EXTRACTS[r.extract].label}（{EXTRACTS[r.extract].english}）"
           + (f", layout {r.layout}" if r.layout else ", the contract's layout (../shared/spec/extracts.md)")]
    if r.rejected:
        out += [f"  ファイル全体を受け付けられません (the whole file would be rejected): {r.rejected}"]
    else:
        out.append(f"  文字コード (encoding): {r.encoding}")
    if r.columns_found or r.columns_missing:
        out.append(f"  列 (columns) found: {', '.join(r.columns_found) or 'none'}")
        out.append(f"  列がない (missing): {', '.join(r.columns_missing) or 'none'}")
        out.append(f"  余分な列 (extra, ignored): {', '.join(r.columns_extra) or 'none'}")
    if not r.rejected:
        rows = sum(len(v) for v in r.quarantined.values())
        lines = len({n for v in r.quarantined.values() for n in v})
        out.append(f"  行数 (rows read): {r.rows_read:,}")
        out.append(f"  取り込まれない行 (rows that would be quarantined): {lines:,}" + (":" if rows else ""))
        for reason, numbers in r.quarantined.items():
            shown = ", ".join(str(n) for n in numbers[:SHOW_LINES]) + (" …" if len(numbers) > SHOW_LINES else "")
            out.append(f"    {reason} — {len(numbers):,}行: {shown}行目")
    out.append("  結果 (result): " + ("PASS 合格" if r.passed else "FAIL 不合格"))
    return "\n".join(out)
