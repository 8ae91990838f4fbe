"""Every identifying value of a landing folder, for tests that prove a store or a file holds none."""

import hashlib
from datetime import date, timedelta
from pathlib import Path

from pipelines.ingest.extracts import landing_files, read_extract, validate


def identifiers(landing: Path, as_of: date) -> set[str]:
    """Every name, kana, address, 宛名番号, 世帯番号, 児童生徒番号 and birth date in the inputs: as written,
    normalised (padded), unpadded, and hashed without a key (md5, sha1, sha256)."""
    values: set[str] = set()
    for name, files in landing_files(landing, as_of).items():
        for f in files:
            v = validate(read_extract(f), as_of)
            for col in ["address_code", "household_code", "pupil_id", "full_name", "full_name_kana", "address",
                        "birth_date"]:
                if col in v.valid.columns:
                    values |= {str(x) for x in v.valid[col].drop_nulls().unique()}
            for col in ["宛名番号", "世帯番号", "児童生徒番号", "氏名", "氏名カナ", "住所", "生年月日"]:
                if col in v.read.raw.columns:
                    values |= {x.strip(" \u3000") for x in v.read.raw[col].drop_nulls().unique() if x.strip()}
    values |= {v.lstrip("0") for v in values if v.isdigit()}
    # the run dates themselves say nothing about a person, even where a baby was born that day
    values -= {str(as_of - timedelta(days=d)) for d in range(3)}
    hashed = {getattr(hashlib, algo)(v.encode()).hexdigest() for v in values for algo in ("md5", "sha1", "sha256")}
    return {v for v in values if len(v) >= 3} | hashed
