"""How fast a fixed-width CP932 extract is read (pipelines/ingest/layouts.py), at a large city's size.

    .venv/bin/python bench/fixed_width.py --preset fukuoka [--seed 1]

Writes the preset's attendance (the largest extract: 13 M rows at fukuoka) as fixed-width CP932 records
with kanji codes (出欠区分, 欠席理由 as the school system spells them), then reads it as the nightly would:
cut by byte ranges, checked for cut characters, validated with pandera — read whole, and in batches staged
in DuckDB (as the nightly reads a file of 64 MB or more). Prints rows per second and the peak memory of each
way, each in its own process.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import polars as pl
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipelines.ingest.extracts import ExtractFile, read_with_layout, validate  # noqa: E402
from pipelines.ingest.layouts import ENV, load_layout  # noqa: E402
from seeds.generator import ExtractWriter, MunicipalityGenerator, World  # noqa: E402

FIELDS = {"児童生徒番号": (1, 10), "学校コード": (11, 23), "日付": (24, 31), "出欠区分": (32, 39), "欠席理由": (40, 49),
          "保健室利用": (50, 50)}


def write_fixed(frame: pl.DataFrame, path: Path) -> int:
    """The contract's attendance rows as fixed-width CP932 records (dates yyyymmdd), padded by bytes."""
    cols = []
    for name, (a, b) in FIELDS.items():
        width = b - a + 1
        col = pl.col(name).fill_null("")
        if name == "日付":
            col = col.str.replace_all("-", "")
        # CP932 writes a kanji in 2 bytes, UTF-8 in 3: pad by the CP932 width
        cp932_len = col.str.len_chars() * 2 - col.str.count_matches(r"[\x00-\x7f]")
        cols.append(pl.concat_str([col, pl.lit(" " * width).str.slice(0, pl.lit(width) - cp932_len)]))
    lines = frame.select(pl.concat_str(cols).alias("line"))["line"]
    with open(path, "wb") as out:
        for lo in range(0, len(lines), 1_000_000):
            out.write(("\r\n".join(lines[lo:lo + 1_000_000].to_list()) + "\r\n").encode("cp932"))
    return len(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="fukuoka")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--read", nargs=3, metavar=("FILE", "LAYOUT", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.read:
        return read(Path(args.read[0]), Path(args.read[1]), args.read[2])
    as_of = date(2026, 11, 30)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        started = time.perf_counter()
        world: World = MunicipalityGenerator(args.preset, args.seed, as_of).build()
        attendance = ExtractWriter(world, None, False).attendance_frame(-1 << 40, (as_of - date(1970, 1, 1)).days)
        del world
        path = tmp / "SHUKKETSU20261130.DAT"
        rows = write_fixed(attendance, path)
        del attendance
        print(f"{args.preset}: {rows:,} attendance records, {path.stat().st_size / 1e6:,.0f} MB fixed-width CP932 "
              f"(written in {time.perf_counter() - started:.0f} s)")
        layout_path = tmp / "shukketsu.yml"
        layout_path.write_text(yaml.safe_dump({
            "extract": "shukketsu", "file": "SHUKKETSU{YYYYMMDD}.DAT", "encoding": "cp932", "format": "fixed",
            "record_length": 50, "columns": {k: {"bytes": [a, b]} for k, (a, b) in FIELDS.items()}},
            allow_unicode=True), encoding="utf-8")
        for mode in ("whole", "batched"):  # each in a fresh process, for its own peak memory
            out = subprocess.run([sys.executable, __file__, "--read", str(path), str(layout_path), mode],
                                 capture_output=True, text=True, check=True).stdout
            print(out.rstrip())


def read(path: Path, layout_path: Path, mode: str) -> None:
    """One way of reading the file as the nightly does: whole, or in batches staged in DuckDB."""
    import duckdb

    from pipelines.ingest.streaming import BATCH_BYTES, validate_in_batches

    as_of, rows = date(2026, 11, 30), None
    layout = load_layout(layout_path)
    file = ExtractFile(path, "shukketsu", as_of)
    started = time.perf_counter()
    if mode == "whole":
        read = read_with_layout(file, layout)
        cut = time.perf_counter() - started
        validated = validate(read, as_of)
        rows = read.rows_read
        print(f"  whole: read by byte ranges {cut:.1f} s = {rows / cut:,.0f} records/s")
    else:
        os.environ[ENV] = str(layout_path.parent)
        con = duckdb.connect()
        con.execute("SET memory_limit = '1GB'")
        validated = validate_in_batches(con, file, as_of, BATCH_BYTES)
        rows = validated.read.rows_read
    total = time.perf_counter() - started
    with open("/proc/self/status") as status:  # VmHWM: this program's peak (ru_maxrss keeps the parent's across exec)
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
    print(f"  {mode}: with normalisation and pandera {total:.1f} s = {rows / total:,.0f} records/s; "
          f"{validated.rows_loaded:,} valid, {validated.rows_quarantined:,} quarantined; "
          f"peak memory of the process {peak:,.0f} MB")


if __name__ == "__main__":
    main()
