"""Rows per second and peak memory of reading and validating one attendance extract (the largest file).

    .venv/bin/python bench/validate_attendance.py /path/to/landing/shukketsu_20261129.csv

Prints decode+parse, normalise+pandera, the total rate, and the process's peak RSS.
"""

from __future__ import annotations

import resource
import sys
import time
from datetime import date
from pathlib import Path

from pipelines.ingest.extracts import ExtractFile, read_extract, validate


def main(path: str) -> None:
    p = Path(path)
    stamp = p.stem.split("_")[1]
    file = ExtractFile(p, "shukketsu", date(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:])))
    started = time.perf_counter()
    read = read_extract(file)
    parsed = time.perf_counter()
    validated = validate(read, file.extracted_on)
    done = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{p.name}: {p.stat().st_size / 1e6:,.0f} MB, {read.rows_read:,} rows ({read.encoding})")
    print(f"  decode + parse        {parsed - started:6.1f} s")
    print(f"  normalise + pandera   {done - parsed:6.1f} s")
    print(f"  total                 {done - started:6.1f} s  = {read.rows_read / (done - started):,.0f} rows/s")
    print(f"  loaded {validated.rows_loaded:,}, quarantined {validated.rows_quarantined:,}; peak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main(sys.argv[1])
